package goproc

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"

	ferry "github.com/ferryd/ferry/go-client"
)

// imageMeta is what an input says about itself besides its pixels, found the same places the
// daemon looks: JPEG APP1 (EXIF, XMP) and APP2 (ICC) segments, PNG eXIf, iCCP and iTXt chunks,
// WebP EXIF, ICCP and XMP chunks. Every field is nil when absent or unreadable: metadata never
// makes an image fail.
type imageMeta struct {
	// exif is the TIFF block, without the "Exif\0\0" prefix some files carry.
	exif []byte
	// icc is the raw profile, reassembled from its JPEG chunks or inflated from iCCP.
	icc []byte
	// xmp is the XMP packet.
	xmp []byte
}

var (
	exifPrefix = []byte("Exif\x00\x00")
	xmpPrefix  = []byte("http://ns.adobe.com/xap/1.0/\x00")
	iccPrefix  = []byte("ICC_PROFILE\x00")
)

// readMeta finds the metadata of an input whose format has been sniffed.
func readMeta(b []byte, f ferry.Format) imageMeta {
	switch f {
	case ferry.FormatJPEG:
		return jpegMeta(b)
	case ferry.FormatPNG:
		return pngMeta(b)
	case ferry.FormatWebP:
		return webpMeta(b)
	}
	return imageMeta{}
}

// jpegSegment is one marker segment of a JPEG header.
type jpegSegment struct {
	marker  byte
	payload []byte
}

// jpegHeader walks the marker segments from SOI up to and including the first start of scan,
// as the daemon does: a header that is cut short, or ends before any scan, is bad_image.
func jpegHeader(b []byte) ([]jpegSegment, error) {
	bad := func(what string) error { return refuse(ferry.CodeBadImage, "jpeg: %s", what) }
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, bad("missing the SOI marker")
	}
	var segs []jpegSegment
	for i := 2; ; {
		if i >= len(b) || b[i] != 0xFF {
			return nil, bad("expected a marker")
		}
		for i < len(b) && b[i] == 0xFF { // fill bytes
			i++
		}
		if i >= len(b) {
			return nil, bad("truncated in the header")
		}
		marker := b[i]
		i++
		switch {
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7): // no length
			continue
		case marker == 0xD9:
			return nil, bad("ends before the first scan")
		case marker == 0x00:
			return nil, bad("stray 0xFF00 in the header")
		}
		if i+2 > len(b) {
			return nil, bad("truncated segment length")
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 {
			return nil, bad("segment length below 2")
		}
		if i+n > len(b) {
			return nil, bad("truncated segment")
		}
		segs = append(segs, jpegSegment{marker, b[i+2 : i+n]})
		i += n
		if marker == 0xDA {
			return segs, nil
		}
	}
}

// jpegFrameSize reads width and height from the first start-of-frame segment (SOF0..SOF15,
// except DHT, JPG and DAC, which share the range).
func jpegFrameSize(segs []jpegSegment) (int, int, error) {
	for _, s := range segs {
		if s.marker < 0xC0 || s.marker > 0xCF || s.marker == 0xC4 || s.marker == 0xC8 || s.marker == 0xCC {
			continue
		}
		if len(s.payload) < 6 {
			return 0, 0, refuse(ferry.CodeBadImage, "jpeg: start-of-frame segment too short")
		}
		h := int(binary.BigEndian.Uint16(s.payload[1:]))
		w := int(binary.BigEndian.Uint16(s.payload[3:]))
		return w, h, nil
	}
	return 0, 0, refuse(ferry.CodeBadImage, "jpeg: no start-of-frame segment before the first scan")
}

// jpegMeta reads EXIF, XMP and ICC from the APP segments of a JPEG header.
func jpegMeta(b []byte) imageMeta {
	var m imageMeta
	type iccChunk struct {
		seq, total byte
		data       []byte
	}
	var chunks []iccChunk
	segs, _ := jpegHeader(b)
	for _, s := range segs {
		p := s.payload
		switch {
		case s.marker == 0xE1 && m.exif == nil && bytes.HasPrefix(p, exifPrefix):
			m.exif = p[len(exifPrefix):]
		case s.marker == 0xE1 && m.xmp == nil && bytes.HasPrefix(p, xmpPrefix):
			m.xmp = p[len(xmpPrefix):]
		case s.marker == 0xE2 && bytes.HasPrefix(p, iccPrefix) && len(p) >= len(iccPrefix)+2:
			k := len(iccPrefix)
			chunks = append(chunks, iccChunk{p[k], p[k+1], p[k+2:]})
		}
	}
	// ICC chunks are numbered 1..total; reassemble only a complete, consistent set.
	if len(chunks) > 0 && int(chunks[0].total) == len(chunks) {
		ordered := make([][]byte, len(chunks))
		for _, c := range chunks {
			if c.total != chunks[0].total || c.seq < 1 || int(c.seq) > len(chunks) || ordered[c.seq-1] != nil {
				ordered = nil
				break
			}
			ordered[c.seq-1] = c.data
		}
		if ordered != nil {
			m.icc = bytes.Join(ordered, nil)
		}
	}
	return m
}

// pngMeta walks the chunks up to the first IDAT (metadata after the pixels is ignored, as it is
// by most readers).
func pngMeta(b []byte) imageMeta {
	var m imageMeta
	for i := 8; i+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		if n < 0 || i+12+n > len(b) || typ == "IDAT" {
			break
		}
		data := b[i+8 : i+8+n]
		switch typ {
		case "eXIf":
			m.exif = bytes.TrimPrefix(data, exifPrefix)
		case "iCCP":
			// name, NUL, compression method 0, zlib stream.
			if k := bytes.IndexByte(data, 0); k >= 0 && k+2 <= len(data) {
				m.icc = inflate(data[k+2:])
			}
		case "iTXt":
			if bytes.HasPrefix(data, []byte("XML:com.adobe.xmp\x00")) {
				m.xmp = itxtText(data)
			}
		}
		i += 12 + n
	}
	return m
}

// itxtText returns the text of an uncompressed iTXt chunk (keyword, NUL, compression flag,
// method, language tag, NUL, translated keyword, NUL, text).
func itxtText(data []byte) []byte {
	k := bytes.IndexByte(data, 0)
	if k < 0 || k+3 > len(data) || data[k+1] != 0 {
		return nil
	}
	rest := data[k+3:]
	for range 2 {
		j := bytes.IndexByte(rest, 0)
		if j < 0 {
			return nil
		}
		rest = rest[j+1:]
	}
	return rest
}

// inflate returns the zlib-decompressed data, or nil. ICC profiles are small; 4 MiB bounds
// what a hostile chunk can make us allocate.
func inflate(z []byte) []byte {
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil
	}
	out, err := io.ReadAll(io.LimitReader(r, 4<<20))
	if err != nil {
		return nil
	}
	return out
}

// webpMeta walks the RIFF chunks of an extended (VP8X) WebP.
func webpMeta(b []byte) imageMeta {
	var m imageMeta
	for i := 12; i+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		if n < 0 || i+8+n > len(b) {
			break
		}
		data := b[i+8 : i+8+n]
		switch string(b[i : i+4]) {
		case "EXIF":
			m.exif = bytes.TrimPrefix(data, exifPrefix)
		case "ICCP":
			m.icc = data
		case "XMP ":
			m.xmp = data
		}
		i += 8 + n + n&1 // chunks are padded to even sizes
	}
	return m
}

// orientation returns the EXIF orientation (1..8) of IFD0, 1 when absent or malformed.
func (m imageMeta) orientation() int {
	at, little := orientationOffset(m.exif)
	if at < 0 {
		return 1
	}
	v := int(readU16(m.exif[at:], little))
	if v < 1 || v > 8 {
		return 1
	}
	return v
}

// orientationOffset finds the 2-byte value of tag 0x0112 (SHORT, count 1) in IFD0 of a TIFF
// block; -1 when there is none.
func orientationOffset(tiff []byte) (int, bool) {
	if len(tiff) < 8 {
		return -1, false
	}
	var little bool
	switch string(tiff[:4]) {
	case "II*\x00":
		little = true
	case "MM\x00*":
	default:
		return -1, false
	}
	ifd := int(readU32(tiff[4:], little))
	if ifd < 8 || ifd+2 > len(tiff) {
		return -1, false
	}
	count := int(readU16(tiff[ifd:], little))
	for e := 0; e < count; e++ {
		at := ifd + 2 + 12*e
		if at+12 > len(tiff) {
			break
		}
		if readU16(tiff[at:], little) == 0x0112 && readU16(tiff[at+2:], little) == 3 && readU32(tiff[at+4:], little) == 1 {
			return at + 8, little
		}
	}
	return -1, false
}

// exifUpright returns a copy of a TIFF block with its orientation set to 1: copied to an output
// whose pixels were turned upright, the tag must not make a viewer turn them again.
func exifUpright(tiff []byte) []byte {
	out := bytes.Clone(tiff)
	if at, little := orientationOffset(out); at >= 0 {
		if little {
			binary.LittleEndian.PutUint16(out[at:], 1)
		} else {
			binary.BigEndian.PutUint16(out[at:], 1)
		}
	}
	return out
}

func readU16(b []byte, little bool) uint16 {
	if little {
		return binary.LittleEndian.Uint16(b)
	}
	return binary.BigEndian.Uint16(b)
}

func readU32(b []byte, little bool) uint32 {
	if little {
		return binary.LittleEndian.Uint32(b)
	}
	return binary.BigEndian.Uint32(b)
}
