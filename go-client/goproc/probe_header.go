package goproc

import (
	"encoding/binary"

	ferry "github.com/ferryd/ferry/go-client"
)

// headerFacts are the facts of a probe (SPEC.md 5.8) read from the header bytes, by the same
// rules as the daemon's (src/jobs/resize/header.rs): whether alpha is declared, whether the file
// is progressive or interlaced, and how many frames it holds. Nothing is decompressed.
type headerFacts struct {
	alpha, progressive bool
	frames             int
}

func readFacts(b []byte, f ferry.Format) headerFacts {
	switch f {
	case ferry.FormatJPEG:
		return jpegFacts(b)
	case ferry.FormatPNG:
		return pngFacts(b)
	case ferry.FormatGIF:
		return gifFacts(b)
	case ferry.FormatWebP:
		return webpFacts(b)
	}
	return headerFacts{frames: 1}
}

// jpegFacts: progressive from the frame marker (SOF2, SOF6, SOF10, SOF14); JPEG has no alpha.
func jpegFacts(b []byte) headerFacts {
	segs, _ := jpegHeader(b)
	for _, s := range segs {
		if s.marker >= 0xC0 && s.marker <= 0xCF && s.marker != 0xC4 && s.marker != 0xC8 && s.marker != 0xCC {
			m := s.marker
			return headerFacts{progressive: m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE, frames: 1}
		}
	}
	return headerFacts{frames: 1}
}

// pngFacts: IHDR's colour type (4 and 6 carry alpha) and interlace method, a tRNS chunk before
// the first IDAT, and an APNG's acTL frame count as declared.
func pngFacts(b []byte) headerFacts {
	f := headerFacts{frames: 1}
	if len(b) > 28 {
		f.alpha = b[25] == 4 || b[25] == 6
		f.progressive = b[28] == 1
	}
	// tRNS before the first IDAT is alpha; a chunk list that cannot be walked to an IDAT is
	// taken as alpha too, as the daemon's estimate guesses.
	trns, reached, actl := false, false, false
	for i := 8; i+8 <= len(b) && i >= 8; {
		n := int(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		if typ == "IDAT" || typ == "IEND" {
			reached = true
			break
		}
		switch {
		case typ == "tRNS":
			trns = true
		case typ == "acTL" && !actl && i+12 <= len(b):
			actl = true
			if frames := int(binary.BigEndian.Uint32(b[i+8:])); frames > 0 {
				f.frames = frames
			}
		}
		i += 12 + n
	}
	trns = trns || !reached
	f.alpha = f.alpha || trns
	return f
}

// webpFacts: the first chunk is VP8 (no alpha), VP8L (its alpha bit, bit 28 of the four bytes
// after the signature) or VP8X (flags: alpha 0x10, animation 0x02; an animation's frames are its
// ANMF chunks).
func webpFacts(b []byte) headerFacts {
	f := headerFacts{frames: 1}
	if len(b) < 16 {
		return f
	}
	switch string(b[12:16]) {
	case "VP8L":
		if len(b) >= 25 {
			f.alpha = binary.LittleEndian.Uint32(b[21:])&(1<<28) != 0
		}
	case "VP8X":
		if len(b) >= 21 {
			flags := b[20]
			f.alpha = flags&0x10 != 0
			if flags&0x02 != 0 {
				f.frames = max(webpFrames(b), 1)
			}
		}
	}
	return f
}

// webpFrames counts the ANMF chunks among the RIFF chunks after the WEBP tag, stopping at the
// first chunk header that runs past the end.
func webpFrames(b []byte) int {
	frames := 0
	for i := 12; i+8 <= len(b) && i >= 0; {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		if string(b[i:i+4]) == "ANMF" {
			frames++
		}
		i += 8 + n + n&1
	}
	return frames
}

// gifFacts walks a GIF's blocks without decompressing any: image descriptors are counted,
// extensions and image data skipped sub-block by sub-block; the first frame gives interlacing,
// the graphic control extension before it transparency. The walk stops at the trailer or at the
// first block it cannot read.
func gifFacts(b []byte) headerFacts {
	f := headerFacts{}
	if len(b) < 11 {
		return headerFacts{frames: 1}
	}
	transparent := false
	at := 13 + colourTableLen(b[10])
loop:
	for at < len(b) {
		switch b[at] {
		case 0x21:
			if at+1 >= len(b) {
				break loop
			}
			if b[at+1] == 0xF9 {
				transparent = at+3 < len(b) && b[at+3]&1 != 0
			}
			next, ok := skipSubBlocks(b, at+2)
			if !ok {
				break loop
			}
			at = next
		case 0x2C:
			if at+9 >= len(b) {
				break loop
			}
			packed := b[at+9]
			if f.frames == 0 {
				f.progressive = packed&0x40 != 0
				f.alpha = transparent
			}
			f.frames++
			next, ok := skipSubBlocks(b, at+10+colourTableLen(packed)+1)
			if !ok {
				break loop
			}
			at = next
		default:
			break loop // the trailer, or bytes that are no block
		}
	}
	f.frames = max(f.frames, 1)
	return f
}

// colourTableLen is the size of the colour table a GIF packed field declares.
func colourTableLen(packed byte) int {
	if packed&0x80 == 0 {
		return 0
	}
	return 3 << ((packed & 7) + 1)
}

// skipSubBlocks returns the offset after the sub-blocks starting at at, false when they run past
// the end.
func skipSubBlocks(b []byte, at int) (int, bool) {
	for {
		if at >= len(b) {
			return 0, false
		}
		n := int(b[at])
		at++
		if n == 0 {
			return at, true
		}
		at += n
	}
}
