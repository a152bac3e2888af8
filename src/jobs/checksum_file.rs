//! Digests of a file passed by descriptor (`checksum_file`, protocol/SPEC.md 5.7): the same
//! hashers as [`super::checksum`], fed from `pread` in chunks of [`FILE_CHUNK`] bytes.
//!
//! Two buffers alternate: while the hashers digest one chunk, the next is read into the other
//! (`rayon::join`), so the copy out of the page cache overlaps hashing instead of adding to it.
//! BLAKE3 splits each chunk across the pool (`update_rayon`), and the worker that finishes its
//! read first steals BLAKE3's halves from the other. The deadline and cancellation are checked
//! once per chunk.

use super::checksum::{validate, Hasher};
use super::{Algorithm, InputFile, JobControl, JobError};

/// Bytes read and hashed per step: small enough that both buffers (the one being hashed, the
/// one being read into) stay in L2 between the copy out of the page cache and the hash. Measured
/// on the 2-core AVX-512 VM (2 MiB L2 per core, shared with other builds, so noisy), BLAKE3 of a
/// 64 MiB cached file through the socket, median of 22 calls per size: 128 KiB 4.8-5.4 GB/s,
/// 256 KiB 4.8-5.9, 512 KiB 4.4-5.7, 1 MiB 4.6-5.1, 2 MiB 4.3-4.7, 4 MiB 4.3-4.6,
/// 16 MiB 3.6. 512 KiB: as fast as 256 KiB with half the steps.
pub const FILE_CHUNK: usize = 512 * 1024;

/// Buffer bytes a `checksum_file` of `size` bytes holds: two chunks, or the file twice when
/// it is smaller than a chunk. The caller reserves this from the memory budget.
pub fn buffer_bytes(size: u64) -> u64 {
    2 * size.min(FILE_CHUNK as u64)
}

/// Digests of `file` (its first [`InputFile::size`] bytes) for each algorithm, in the order
/// given. A short read, or a size that changed while reading, is [`JobError::BadFile`].
pub fn checksum_file(
    file: &InputFile,
    algorithms: &[Algorithm],
    ctl: &JobControl,
) -> Result<Vec<(Algorithm, Vec<u8>)>, JobError> {
    validate(algorithms)?;
    ctl.check("read")?;
    let size = file.size();
    let chunk = size.min(FILE_CHUNK as u64) as usize;
    let mut hashers: Vec<Hasher> = algorithms.iter().map(|&a| Hasher::new(a)).collect();
    let mut current = vec![0u8; chunk];
    let mut next = vec![0u8; chunk];
    let mut offset = 0u64;
    let mut len = chunk_at(size, offset);
    file.read_exact_at(&mut current[..len], offset)?;
    while len > 0 {
        let next_offset = offset + len as u64;
        let next_len = chunk_at(size, next_offset);
        let hashed = &current[..len];
        let (read, ()) = rayon::join(
            || file.read_exact_at(&mut next[..next_len], next_offset),
            || hashers.iter_mut().for_each(|h| h.update(hashed)),
        );
        read?;
        ctl.check("checksum")?;
        std::mem::swap(&mut current, &mut next);
        (offset, len) = (next_offset, next_len);
    }
    file.check_unchanged()?;
    Ok(algorithms.iter().copied().zip(hashers.into_iter().map(Hasher::finish)).collect())
}

/// Length of the chunk starting at `offset` (0 at the end).
fn chunk_at(size: u64, offset: u64) -> usize {
    size.saturating_sub(offset).min(FILE_CHUNK as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::checksum::checksum;
    use std::io::Write;

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, InputFile) {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(bytes).unwrap();
        let fd = std::fs::File::open(tmp.path()).unwrap().into();
        (tmp, InputFile::new(fd).unwrap())
    }

    #[test]
    fn equals_the_in_memory_checksum_at_chunk_edges() {
        let all = [Algorithm::Blake3, Algorithm::Crc32c, Algorithm::Sha256, Algorithm::Xxh3_64];
        for len in [0, 1, FILE_CHUNK - 1, FILE_CHUNK, FILE_CHUNK + 1, 5 * FILE_CHUNK + 12345] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let (_tmp, file) = file_of(&data);
            let got = checksum_file(&file, &all, &JobControl::unbounded()).unwrap();
            assert_eq!(got, checksum(&data, &all, &JobControl::unbounded()).unwrap(), "length {len}");
        }
    }

    #[test]
    fn a_cancel_stops_it_and_a_shrunk_file_is_bad_file() {
        let (tmp, file) = file_of(&vec![1; 3 * FILE_CHUNK]);
        let cancelled = JobControl::unbounded();
        cancelled.cancel();
        assert!(matches!(checksum_file(&file, &[Algorithm::Blake3], &cancelled), Err(JobError::Cancelled { .. })));
        tmp.as_file().set_len(FILE_CHUNK as u64).unwrap();
        let shrunk = checksum_file(&file, &[Algorithm::Blake3], &JobControl::unbounded());
        assert!(matches!(shrunk, Err(JobError::BadFile(_))), "{shrunk:?}");
    }
}
