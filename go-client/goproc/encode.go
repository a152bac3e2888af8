package goproc

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"

	ferry "github.com/ferryd/ferry/go-client"
)

// encodeOutput encodes the finished, upright, premultiplied picture. gray says the source was
// grayscale (JPEG and PNG then stay grayscale, as the daemon's do). extras are written where
// the format allows: JPEG and PNG here; WebP and AVIF output carry none.
func encodeOutput(img *image.RGBA, f ferry.Format, quality int, gray bool, extras imageMeta) ([]byte, error) {
	var buf bytes.Buffer
	switch f {
	case ferry.FormatJPEG:
		img = overWhite(img)
		var src image.Image = img
		if gray {
			src = toGray(img)
		}
		if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: quality}); err != nil {
			return nil, refuse(ferry.CodeInternal, "jpeg encode: %v", err)
		}
		return withJPEGExtras(buf.Bytes(), extras), nil
	case ferry.FormatPNG:
		var src image.Image
		switch {
		case gray && isOpaque(img):
			src = toGray(img)
		case isOpaque(img):
			src = img // written as RGB, alpha dropped
		default:
			src = unpremultiply(img)
		}
		// Fast deflate, like the daemon's: thumbnails are re-encoded often and read rarely.
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		if err := enc.Encode(&buf, src); err != nil {
			return nil, refuse(ferry.CodeInternal, "png encode: %v", err)
		}
		return withPNGExtras(buf.Bytes(), extras), nil
	case ferry.FormatAVIF:
		if err := encodeAVIF(&buf, img, quality); err != nil {
			return nil, refuse(ferry.CodeInternal, "avif encode: %v", err)
		}
		return buf.Bytes(), nil
	default: // ferry.FormatWebP
		if err := encodeWebP(&buf, img, quality); err != nil {
			return nil, refuse(ferry.CodeInternal, "webp encode: %v", err)
		}
		return buf.Bytes(), nil
	}
}

// maxSegment is the largest payload of one JPEG marker segment (its length field counts
// itself).
const maxSegment = 65533

// withJPEGExtras inserts APP1 (EXIF, XMP) and APP2 (ICC, in numbered chunks) segments right
// after SOI: image/jpeg writes none of its own.
func withJPEGExtras(j []byte, m imageMeta) []byte {
	if m.exif == nil && m.xmp == nil && m.icc == nil {
		return j
	}
	out := make([]byte, 0, len(j)+len(m.exif)+len(m.xmp)+len(m.icc)+256)
	out = append(out, j[:2]...)
	segment := func(marker byte, parts ...[]byte) {
		n := 2
		for _, p := range parts {
			n += len(p)
		}
		if n-2 > maxSegment {
			return // cannot be stored in one segment; dropped, as a reader could not use it
		}
		out = append(out, 0xFF, marker, byte(n>>8), byte(n))
		for _, p := range parts {
			out = append(out, p...)
		}
	}
	if m.exif != nil {
		segment(0xE1, exifPrefix, m.exif)
	}
	if m.xmp != nil {
		segment(0xE1, xmpPrefix, m.xmp)
	}
	if m.icc != nil {
		per := maxSegment - len(iccPrefix) - 2
		total := (len(m.icc) + per - 1) / per
		if total <= 255 {
			for i := 0; i < total; i++ {
				chunk := m.icc[i*per : min(len(m.icc), (i+1)*per)]
				segment(0xE2, iccPrefix, []byte{byte(i + 1), byte(total)}, chunk)
			}
		}
	}
	return append(out, j[2:]...)
}

// withPNGExtras inserts iCCP, eXIf and an XMP iTXt chunk right after IHDR (image/png writes
// none of its own). IHDR is always the first chunk, 25 bytes in with its CRC.
func withPNGExtras(p []byte, m imageMeta) []byte {
	if m.exif == nil && m.xmp == nil && m.icc == nil {
		return p
	}
	const afterIHDR = 8 + 8 + 13 + 4
	out := append([]byte(nil), p[:afterIHDR]...)
	chunk := func(typ string, data []byte) {
		out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
		start := len(out)
		out = append(out, typ...)
		out = append(out, data...)
		out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	if m.icc != nil {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		_, _ = zw.Write(m.icc)
		_ = zw.Close()
		chunk("iCCP", append([]byte("icc\x00\x00"), z.Bytes()...))
	}
	if m.exif != nil {
		chunk("eXIf", m.exif)
	}
	if m.xmp != nil {
		// keyword, NUL, uncompressed, method 0, empty language, NUL, empty translation, NUL
		chunk("iTXt", append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), m.xmp...))
	}
	return append(out, p[afterIHDR:]...)
}
