//! Shrink-on-load for decoders that give us rows: each `factor x factor` block of pixels is
//! averaged as its rows arrive, so the full-size picture is never held. A 15 MP PNG thumbnail
//! then keeps 2.7 MB of pixels instead of 44 MB, skips zeroing and copying the large buffer,
//! and the resampler filters a quarter of the rows and columns.
//!
//! Like libjpeg-turbo's DCT scaling, the shrunk size is `ceil(side / factor)`: the last column
//! and row of blocks may be partial, and are averaged over the pixels they have. Samples are
//! summed exactly and rounded half up. Layouts with alpha are not shrunk here (their colour must
//! be averaged weighted by alpha); callers decode those at full size.

/// Averages blocks of rows pushed one at a time.
pub struct BoxShrinker {
    factor: usize,
    channels: usize,
    width: usize,
    /// Column sums of the rows of the current band, one per sample of a full row. Up to 8 rows
    /// of 255 fit in u16.
    column_sums: Vec<u16>,
    rows_in_band: usize,
    out: Vec<u8>,
}

impl BoxShrinker {
    /// Shrinks rows of `width` pixels of `channels` samples by `factor` (2 to 8) on both axes,
    /// for a picture of `height` rows.
    pub fn new(width: u32, height: u32, channels: usize, factor: u32) -> BoxShrinker {
        assert!((2..=8).contains(&factor), "box factor {factor}");
        let factor = factor as usize;
        let width = width as usize;
        let out_len = width.div_ceil(factor) * (height as usize).div_ceil(factor) * channels;
        BoxShrinker {
            factor,
            channels,
            width,
            column_sums: vec![0; width * channels],
            rows_in_band: 0,
            out: Vec::with_capacity(out_len),
        }
    }

    /// Adds the next row (`width x channels` samples).
    pub fn push_row(&mut self, row: &[u8]) {
        let row = &row[..self.column_sums.len()];
        // Plain element-wise adds: the compiler vectorises this loop.
        for (sum, &sample) in self.column_sums.iter_mut().zip(row) {
            *sum += u16::from(sample);
        }
        self.rows_in_band += 1;
        if self.rows_in_band == self.factor {
            self.emit_band();
        }
    }

    /// The shrunk samples, row-major; a partial last band is averaged over its rows.
    pub fn finish(mut self) -> Vec<u8> {
        if self.rows_in_band > 0 {
            self.emit_band();
        }
        self.out
    }

    fn emit_band(&mut self) {
        let (factor, channels) = (self.factor, self.channels);
        let rows = self.rows_in_band as u32;
        let whole = (self.width / factor) * factor * channels;
        let (head, tail) = self.column_sums.split_at(whole);
        let divisor = Divisor::new(rows * factor as u32);
        // Constant shapes for the layouts that reach here (gray, RGB; 1/2, 1/4, 1/8), so the
        // block sums unroll; a divide per sample would cost more than all the adds.
        match (channels, factor) {
            (1, 2) => average_blocks::<1, 2>(head, divisor, &mut self.out),
            (1, 4) => average_blocks::<1, 4>(head, divisor, &mut self.out),
            (1, 8) => average_blocks::<1, 8>(head, divisor, &mut self.out),
            (3, 2) => average_blocks::<3, 2>(head, divisor, &mut self.out),
            (3, 4) => average_blocks::<3, 4>(head, divisor, &mut self.out),
            (3, 8) => average_blocks::<3, 8>(head, divisor, &mut self.out),
            _ => average_columns(head, channels, factor, divisor, &mut self.out),
        }
        if !tail.is_empty() {
            let columns = tail.len() / channels;
            average_columns(tail, channels, columns, Divisor::new(rows * columns as u32), &mut self.out);
        }
        self.column_sums.fill(0);
        self.rows_in_band = 0;
    }

    /// Pixels per shrunk row.
    pub fn out_width(&self) -> u32 {
        self.width.div_ceil(self.factor) as u32
    }
}

/// Division by a block's pixel count, rounded half up, as a multiply and a shift: exact for the
/// totals that occur (at most 64 x 255 plus half the divisor; n x d stays far below 2^32).
#[derive(Clone, Copy)]
struct Divisor {
    divisor: u32,
    reciprocal: u64,
}

impl Divisor {
    fn new(divisor: u32) -> Divisor {
        Divisor { divisor, reciprocal: (1u64 << 32).div_ceil(u64::from(divisor)) }
    }

    fn average(self, total: u32) -> u8 {
        ((u64::from(total + self.divisor / 2) * self.reciprocal) >> 32) as u8
    }
}

/// Averages whole blocks of `F` pixels of `C` samples (column sums in, one pixel out per block).
fn average_blocks<const C: usize, const F: usize>(sums: &[u16], divisor: Divisor, out: &mut Vec<u8>) {
    for block in sums.chunks_exact(C * F) {
        let mut totals = [0u32; C];
        for pixel in block.chunks_exact(C) {
            for (total, &sum) in totals.iter_mut().zip(pixel) {
                *total += u32::from(sum);
            }
        }
        out.extend(totals.map(|t| divisor.average(t)));
    }
}

/// [`average_blocks`] for any shape: blocks of `factor` pixels (the last may be shorter only
/// when the caller passes its true width as `factor`).
fn average_columns(sums: &[u16], channels: usize, factor: usize, divisor: Divisor, out: &mut Vec<u8>) {
    let mut totals = [0u32; 4];
    for block in sums.chunks(channels * factor) {
        totals[..channels].fill(0);
        for pixel in block.chunks_exact(channels) {
            for (total, &sum) in totals.iter_mut().zip(pixel) {
                *total += u32::from(sum);
            }
        }
        out.extend(totals[..channels].iter().map(|&t| divisor.average(t)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The average of each block, pixel by pixel, the obvious way.
    fn reference(data: &[u8], width: usize, height: usize, channels: usize, factor: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for by in (0..height).step_by(factor) {
            for bx in (0..width).step_by(factor) {
                for c in 0..channels {
                    let (mut total, mut count) = (0u32, 0u32);
                    for y in by..(by + factor).min(height) {
                        for x in bx..(bx + factor).min(width) {
                            total += u32::from(data[(y * width + x) * channels + c]);
                            count += 1;
                        }
                    }
                    out.push(((total + count / 2) / count) as u8);
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_blockwise_average_with_partial_blocks_on_both_axes() {
        let mut seed = 0x2545_f491_u32;
        for (width, height) in [(1, 1), (7, 5), (16, 16), (33, 9), (2, 31)] {
            for channels in [1, 3] {
                for factor in 2..=8 {
                    let data: Vec<u8> = (0..width * height * channels)
                        .map(|_| {
                            seed ^= seed << 13;
                            seed ^= seed >> 17;
                            seed ^= seed << 5;
                            seed as u8
                        })
                        .collect();
                    let mut shrinker = BoxShrinker::new(width as u32, height as u32, channels, factor as u32);
                    assert_eq!(shrinker.out_width() as usize, width.div_ceil(factor));
                    for row in data.chunks_exact(width * channels) {
                        shrinker.push_row(row);
                    }
                    let got = shrinker.finish();
                    let want = reference(&data, width, height, channels, factor);
                    assert_eq!(got.len(), width.div_ceil(factor) * height.div_ceil(factor) * channels);
                    assert_eq!(got, want, "{width}x{height}x{channels} by {factor}");
                }
            }
        }
    }

    #[test]
    fn the_reciprocal_divides_exactly_over_every_total_a_block_can_have() {
        for d in 1..=64u32 {
            let divisor = Divisor::new(d);
            for total in 0..=d * 255 {
                assert_eq!(u32::from(divisor.average(total)), (total + d / 2) / d, "{total} / {d}");
            }
        }
    }

    #[test]
    fn saturated_blocks_of_eight_do_not_overflow_and_halves_round_up() {
        let mut shrinker = BoxShrinker::new(8, 8, 1, 8);
        for _ in 0..8 {
            shrinker.push_row(&[255; 8]);
        }
        assert_eq!(shrinker.finish(), [255]);
        let mut shrinker = BoxShrinker::new(2, 1, 1, 2);
        shrinker.push_row(&[0, 1]);
        assert_eq!(shrinker.finish(), [1]); // 0.5 rounds up
    }
}
