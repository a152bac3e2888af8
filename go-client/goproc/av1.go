package goproc

import (
	"encoding/binary"

	ferry "github.com/ferryd/ferry/go-client"
)

// An AVIF's ispe property declares the size, but the decoder decodes what the AV1 data holds: a
// file that declares 64x48 over a 16384x16384 frame (a few KiB of flat colour) would have the
// Go path's libavif decode a quarter of a gigapixel, within its own limits, not ours. So before
// any decoder runs, the Go path reads the sequence header at the start of every AV1 item's data
// (its largest frame size, max_frame_width and max_frame_height: AV1 5.5) and holds each frame,
// and all of them together, to the limits: the primary image, its alpha plane, grid tiles and
// thumbnails.

// maxAV1FramesPixels is how many times max_pixels all of a file's AV1 frames may hold together:
// an image at the limit, its alpha plane, and room for tiles that overhang a grid's canvas.
const maxAV1FramesPixels = 3

// maxAV1Items bounds the AV1 items of one file: a grid of tiny tiles costs the decoder per tile,
// whatever their pixels. A 48 MP photo in 512x512 tiles has 192, twice that with alpha.
const maxAV1Items = 1024

// checkAV1Frames refuses an AVIF whose AV1 frames exceed the limits (image_too_large), or whose
// items cannot be located or start without a sequence header (bad_image).
func (p *Processor) checkAV1Frames(b []byte) error {
	frames, err := av1Frames(b)
	if err != nil {
		return err
	}
	if len(frames) > maxAV1Items {
		return refuse(ferry.CodeImageTooLarge, "avif: %d AV1 items, more than %d", len(frames), maxAV1Items)
	}
	var total int64
	for _, f := range frames {
		if err := p.checkInputSize(f[0], f[1]); err != nil {
			return refuse(ferry.CodeImageTooLarge, "avif: an AV1 frame of up to %dx%d: %s", f[0], f[1], err.(*ferry.ServerError).Message)
		}
		total += int64(f[0]) * int64(f[1])
	}
	if total > maxAV1FramesPixels*p.limits.MaxPixels {
		return refuse(ferry.CodeImageTooLarge, "avif: %d AV1 frames of %d pixels in all exceed %d x max_pixels %d",
			len(frames), total, maxAV1FramesPixels, p.limits.MaxPixels)
	}
	return nil
}

// av1Frames returns the largest frame size ([width, height]) of every av01 item of a HEIF file,
// from the sequence header its data starts with.
func av1Frames(b []byte) ([][2]int, error) {
	bad := func(why string) ([][2]int, error) {
		return nil, refuse(ferry.CodeBadImage, "avif: %s", why)
	}
	top, _ := readBoxes(b)
	meta, ok := find(top, "meta")
	if !ok || len(meta) < 4 {
		return bad("no complete meta box")
	}
	inner, ok := readBoxes(meta[4:])
	if !ok {
		return bad("a box in meta runs past its end")
	}
	types, err := itemTypes(inner)
	if err != "" {
		return bad(err)
	}
	ilocBody, ok := find(inner, "iloc")
	if !ok {
		return bad("no item locations (iloc)")
	}
	idat, _ := find(inner, "idat")
	starts, err := itemStarts(ilocBody, b, idat)
	if err != "" {
		return bad(err)
	}
	var frames [][2]int
	for id, typ := range types {
		if typ != "av01" {
			continue
		}
		data, ok := starts[id]
		if !ok {
			return bad("an AV1 item has no location")
		}
		w, h, why := av1MaxFrame(data)
		if why != "" {
			return bad(why)
		}
		frames = append(frames, [2]int{w, h})
	}
	if len(frames) == 0 {
		return bad("no AV1 image item")
	}
	return frames, nil
}

// itemTypes reads iinf: item ID to item type, for the infe boxes of version 2 and 3 (the ones
// that carry a type; HEIF images use no other).
func itemTypes(meta []box) (map[uint32]string, string) {
	body, ok := find(meta, "iinf")
	if !ok || len(body) < 6 {
		return nil, "no item information (iinf)"
	}
	skip := 6 // version, flags, a 16-bit count
	if body[0] != 0 {
		skip = 8
	}
	if len(body) < skip {
		return nil, "short iinf"
	}
	entries, ok := readBoxes(body[skip:])
	if !ok {
		return nil, "an item entry runs past the end of iinf"
	}
	types := map[uint32]string{}
	for _, e := range entries {
		if e.typ != "infe" || len(e.body) < 4 {
			continue
		}
		switch v, d := e.body[0], e.body[4:]; {
		case v == 2 && len(d) >= 8:
			types[uint32(binary.BigEndian.Uint16(d))] = string(d[4:8])
		case v == 3 && len(d) >= 10:
			types[binary.BigEndian.Uint32(d)] = string(d[6:10])
		}
	}
	return types, ""
}

// itemStarts reads iloc: item ID to its data from the start of its first extent to the end of
// the file (or of idat, for construction method 1): enough to read what the data starts with.
// Items built from other items (construction method 2) are left out.
func itemStarts(iloc, file, idat []byte) (map[uint32][]byte, string) {
	r := byteReader{b: iloc}
	version := r.u8()
	r.skip(3)
	sizes := r.u8()
	offsetSize, lengthSize := int(sizes>>4), int(sizes&0xF)
	sizes = r.u8()
	baseSize, indexSize := int(sizes>>4), int(sizes&0xF)
	if version == 0 {
		indexSize = 0
	}
	count := r.uint(2)
	if version >= 2 {
		count = r.uint(4)
	}
	starts := map[uint32][]byte{}
	for range count {
		if r.short {
			break
		}
		var id uint64
		if version < 2 {
			id = r.uint(2)
		} else {
			id = r.uint(4)
		}
		method := uint64(0)
		if version >= 1 {
			method = r.uint(2) & 0xF
		}
		r.skip(2) // data_reference_index
		base := r.uint(baseSize)
		extents := r.uint(2)
		for i := range extents {
			r.uint(indexSize)
			offset := r.uint(offsetSize)
			r.uint(lengthSize)
			if i > 0 {
				continue
			}
			var src []byte
			switch method {
			case 0:
				src = file
			case 1:
				src = idat
			default:
				continue
			}
			if at := base + offset; at < uint64(len(src)) && at >= base {
				starts[uint32(id)] = src[at:]
			}
		}
	}
	if r.short {
		return nil, "short iloc"
	}
	return starts, ""
}

// av1MaxFrame reads the sequence header OBU that AV1 item data starts with (after any temporal
// delimiter, metadata or padding OBUs) and returns its max_frame_width and max_frame_height.
func av1MaxFrame(d []byte) (w, h int, why string) {
	for {
		if len(d) < 1 {
			return 0, 0, "AV1 item data ends before a sequence header"
		}
		header := d[0]
		typ, hasExt, hasSize := (header>>3)&0xF, header&4 != 0, header&2 != 0
		i := 1
		if hasExt {
			i++
		}
		if i > len(d) {
			return 0, 0, "short OBU header"
		}
		size := uint64(len(d) - i)
		if hasSize {
			var n int
			if size, n = leb128(d[i:]); n == 0 {
				return 0, 0, "bad OBU size"
			}
			i += n
		}
		if uint64(len(d)-i) < size {
			return 0, 0, "an OBU runs past the item data"
		}
		payload := d[i : i+int(size)]
		switch typ {
		case 1: // OBU_SEQUENCE_HEADER
			return sequenceHeaderMaxFrame(payload)
		case 2, 5, 15: // temporal delimiter, metadata, padding
			d = d[i+int(size):]
		default:
			return 0, 0, "AV1 item data has a frame before any sequence header"
		}
	}
}

// sequenceHeaderMaxFrame parses a sequence_header_obu (AV1 5.5.1) as far as the frame size.
func sequenceHeaderMaxFrame(p []byte) (w, h int, why string) {
	r := bitReader{b: p}
	r.f(3)           // seq_profile
	r.f(1)           // still_picture
	if r.f(1) == 1 { // reduced_still_picture_header
		r.f(5) // seq_level_idx[0]
	} else {
		decoderModel := false
		bufferDelayLength := 0
		if r.f(1) == 1 { // timing_info_present_flag
			r.f(32)          // num_units_in_display_tick
			r.f(32)          // time_scale
			if r.f(1) == 1 { // equal_picture_interval
				r.uvlc() // num_ticks_per_picture_minus_1
			}
			if r.f(1) == 1 { // decoder_model_info_present_flag
				decoderModel = true
				bufferDelayLength = int(r.f(5)) + 1
				r.f(32) // num_units_in_decoding_tick
				r.f(5)  // buffer_removal_time_length_minus_1
				r.f(5)  // frame_presentation_time_length_minus_1
			}
		}
		initialDisplayDelay := r.f(1) == 1
		points := int(r.f(5)) + 1
		for range points {
			r.f(12)         // operating_point_idc
			if r.f(5) > 7 { // seq_level_idx
				r.f(1) // seq_tier
			}
			if decoderModel && r.f(1) == 1 { // decoder_model_present_for_this_op
				r.f(bufferDelayLength) // decoder_buffer_delay
				r.f(bufferDelayLength) // encoder_buffer_delay
				r.f(1)                 // low_delay_mode_flag
			}
			if initialDisplayDelay && r.f(1) == 1 {
				r.f(4) // initial_display_delay_minus_1
			}
		}
	}
	wBits, hBits := int(r.f(4))+1, int(r.f(4))+1
	w, h = int(r.f(wBits))+1, int(r.f(hBits))+1
	if r.short {
		return 0, 0, "short AV1 sequence header"
	}
	return w, h, ""
}

// leb128 reads an unsigned LEB128 number of at most 8 bytes (AV1 4.10.5); n is 0 when there is
// none.
func leb128(b []byte) (v uint64, n int) {
	for i := 0; i < 8 && i < len(b); i++ {
		v |= uint64(b[i]&0x7F) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// byteReader reads big-endian fields; reading past the end gives zeros and sets short.
type byteReader struct {
	b     []byte
	short bool
}

func (r *byteReader) uint(n int) uint64 {
	if n == 0 {
		return 0
	}
	if len(r.b) < n {
		r.short, r.b = true, nil
		return 0
	}
	var v uint64
	for _, c := range r.b[:n] {
		v = v<<8 | uint64(c)
	}
	r.b = r.b[n:]
	return v
}

func (r *byteReader) u8() byte   { return byte(r.uint(1)) }
func (r *byteReader) skip(n int) { r.uint(n) }

// bitReader reads AV1's f(n) fields, most significant bit first; past the end it gives zeros
// and sets short.
type bitReader struct {
	b     []byte
	pos   int
	short bool
}

func (r *bitReader) f(n int) uint64 {
	var v uint64
	for range n {
		if r.pos>>3 >= len(r.b) {
			r.short = true
			return v << 1
		}
		v = v<<1 | uint64(r.b[r.pos>>3]>>(7-r.pos&7)&1)
		r.pos++
	}
	return v
}

// uvlc reads AV1's variable-length code (4.10.3).
func (r *bitReader) uvlc() uint64 {
	zeros := 0
	for r.f(1) == 0 {
		if zeros++; zeros >= 32 || r.short {
			return 0
		}
	}
	return r.f(zeros) + 1<<zeros - 1
}
