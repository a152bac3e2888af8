package goproc

import (
	"bytes"
	"encoding/binary"
	"image"
	"slices"

	ferry "github.com/ferryd/ferry/go-client"
)

// HEIF (ISO/IEC 23008-12) is the container of AVIF and HEIC: ISO BMFF boxes, an ftyp box first
// whose brands say which codec the images use, and a meta box that describes the items (the
// primary image, its tiles, its alpha plane, thumbnails) and their properties (ispe: the size;
// irot and imir: a rotation and a mirror to apply). This file reads just enough of it to sniff
// the format and to check the declared size against the limits before any decoder runs.

// The ftyp brands of the two codecs (ISO/IEC 23008-12 Annex B; the AVIF specification 9):
// still images and image sequences.
var (
	avifBrands = []string{"avif", "avis"}
	heicBrands = []string{"heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"}
)

// sniffHEIF tells AVIF from HEIC by the ftyp box's major and compatible brands; "" when b is
// not a HEIF file of either. AVIF wins when a file names both (a file that lists avif can be read
// as AVIF).
func sniffHEIF(b []byte) ferry.Format {
	if len(b) < 16 || string(b[4:8]) != "ftyp" {
		return ""
	}
	size := int(binary.BigEndian.Uint32(b))
	if size < 16 || size > len(b) || (size-16)%4 != 0 {
		return ""
	}
	brands := []string{string(b[8:12])}
	for i := 16; i < size; i += 4 {
		brands = append(brands, string(b[i:i+4]))
	}
	has := func(set []string) bool {
		return slices.ContainsFunc(brands, func(b string) bool { return slices.Contains(set, b) })
	}
	switch {
	case has(avifBrands):
		return ferry.FormatAVIF
	case has(heicBrands):
		return ferry.FormatHEIC
	}
	return ""
}

// heifHeader is what the meta box says of the primary image.
type heifHeader struct {
	width, height int
	// transforms are the primary image's irot and imir properties, in the order listed: a
	// rotation or mirror that every reader applies (the decoder does not: see orientation).
	transforms []heifTransform
	// cropped: the primary image has a clean aperture (clap), a crop the Go path does not apply.
	cropped bool
}

// heifTransform is one irot (rotate, by 90 degrees anticlockwise times turns) or imir (mirror,
// mode 0 top to bottom, 1 left to right) property.
type heifTransform struct {
	mirror bool
	turns  int // irot: 0..3
	mode   int // imir: 0 or 1
}

// orientation is the EXIF orientation (1..8) that turns the decoded picture upright as the
// transforms do, so that the Go path applies them with the code that applies EXIF orientation.
// It is found by applying the transforms to a 2x3 picture of distinct pixels and matching the
// result with each orientation's.
func (h heifHeader) orientation() int {
	probe := image.NewRGBA(image.Rect(0, 0, 2, 3))
	for i := range probe.Pix {
		probe.Pix[i] = byte(i)
	}
	want := probe
	for _, t := range h.transforms {
		if t.mirror {
			want = mirrorRGBA(want, t.mode == 1)
		} else {
			for range t.turns {
				want = rotateAnticlockwise(want)
			}
		}
	}
	for o := 1; o <= 8; o++ {
		if got := orientRGBA(o, probe); got.Rect == want.Rect && bytes.Equal(got.Pix, want.Pix) {
			return o
		}
	}
	return 1 // unreachable: the eight orientations are every rotation and mirror of a rectangle
}

// rotateAnticlockwise turns src a quarter turn anticlockwise: (x, y) goes to (y, w-1-x).
func rotateAnticlockwise(src *image.RGBA) *image.RGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, h, w))
	for y := range h {
		for x := range w {
			copy(dst.Pix[dst.PixOffset(y, w-1-x):][:4], src.Pix[src.PixOffset(x, y):][:4])
		}
	}
	return dst
}

// mirrorRGBA mirrors src left to right when leftRight, else top to bottom.
func mirrorRGBA(src *image.RGBA, leftRight bool) *image.RGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dst := image.NewRGBA(src.Rect)
	for y := range h {
		for x := range w {
			dx, dy := x, h-1-y
			if leftRight {
				dx, dy = w-1-x, y
			}
			copy(dst.Pix[dst.PixOffset(dx, dy):][:4], src.Pix[src.PixOffset(x, y):][:4])
		}
	}
	return dst
}

// box is one ISO BMFF box: its four-letter type and its payload.
type box struct {
	typ  string
	body []byte
}

// readBoxes splits b into boxes; ok is false when a size runs past the end or below the header
// (out then holds the boxes before that one).
func readBoxes(b []byte) (out []box, ok bool) {
	for len(b) > 0 {
		if len(b) < 8 {
			return out, false
		}
		size, head := uint64(binary.BigEndian.Uint32(b)), uint64(8)
		switch size {
		case 0: // to the end of the enclosing box
			size = uint64(len(b))
		case 1: // a 64-bit size follows the type
			if len(b) < 16 {
				return out, false
			}
			size, head = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < head || size > uint64(len(b)) {
			return out, false
		}
		out = append(out, box{string(b[4:8]), b[head:size]})
		b = b[size:]
	}
	return out, true
}

// find returns the body of the first box of type typ.
func find(bs []box, typ string) ([]byte, bool) {
	for _, b := range bs {
		if b.typ == typ {
			return b.body, true
		}
	}
	return nil, false
}

// readHEIFHeader reads the primary item's ispe (its size) and whether it has transform
// properties, from the meta box: pitm names the primary item, iprp/ipco lists the properties and
// iprp/ipma says which belong to which item. Nothing is decoded; a box that does not parse is
// bad_image.
func readHEIFHeader(b []byte, f ferry.Format) (heifHeader, error) {
	var h heifHeader
	bad := func(why string) (heifHeader, error) {
		return heifHeader{}, refuse(ferry.CodeBadImage, "%s header: %s", f, why)
	}
	// The boxes up to one that runs past the end: the media data (mdat) of a file cut short, or
	// of the head that Serves reads, may; the decoder judges the data.
	top, _ := readBoxes(b)
	meta, ok := find(top, "meta")
	if !ok || len(meta) < 4 {
		return bad("no complete meta box")
	}
	inner, ok := readBoxes(meta[4:]) // meta is a full box: version and flags first
	if !ok {
		return bad("a box in meta runs past its end")
	}
	pitm, ok := find(inner, "pitm")
	if !ok || len(pitm) < 6 {
		return bad("no primary item (pitm)")
	}
	primary := uint32(binary.BigEndian.Uint16(pitm[4:]))
	if pitm[0] != 0 {
		if len(pitm) < 8 {
			return bad("short pitm")
		}
		primary = binary.BigEndian.Uint32(pitm[4:])
	}
	iprp, ok := find(inner, "iprp")
	if !ok {
		return bad("no item properties (iprp)")
	}
	props, ok := readBoxes(iprp)
	if !ok {
		return bad("a box in iprp runs past its end")
	}
	ipcoBody, ok := find(props, "ipco")
	if !ok {
		return bad("no property container (ipco)")
	}
	ipco, ok := readBoxes(ipcoBody)
	if !ok {
		return bad("a property runs past the end of ipco")
	}
	indices, err := primaryProperties(props, primary)
	if err != "" {
		return bad(err)
	}
	for _, i := range indices {
		if i == 0 || int(i) > len(ipco) {
			continue // 0 means no property; an index past the list names nothing
		}
		p := ipco[i-1]
		switch p.typ {
		case "ispe":
			if len(p.body) < 12 {
				return bad("short ispe")
			}
			h.width = int(binary.BigEndian.Uint32(p.body[4:]))
			h.height = int(binary.BigEndian.Uint32(p.body[8:]))
		case "irot":
			if len(p.body) < 1 {
				return bad("short irot")
			}
			h.transforms = append(h.transforms, heifTransform{turns: int(p.body[0] & 3)})
		case "imir":
			if len(p.body) < 1 {
				return bad("short imir")
			}
			h.transforms = append(h.transforms, heifTransform{mirror: true, mode: int(p.body[0] & 1)})
		case "clap":
			h.cropped = true
		}
	}
	if h.width <= 0 || h.height <= 0 {
		return bad("the primary item declares no size (ispe)")
	}
	return h, nil
}

// primaryProperties returns the ipco indices (1-based) that the ipma boxes associate with item
// primary, or why they cannot be read.
func primaryProperties(props []box, primary uint32) ([]uint16, string) {
	var out []uint16
	for _, p := range props {
		if p.typ != "ipma" {
			continue
		}
		b := p.body
		if len(b) < 8 {
			return nil, "short ipma"
		}
		version, wide := b[0], b[3]&1 == 1
		n := binary.BigEndian.Uint32(b[4:])
		b = b[8:]
		for range n {
			var item uint32
			if version < 1 {
				if len(b) < 3 {
					return nil, "short ipma entry"
				}
				item, b = uint32(binary.BigEndian.Uint16(b)), b[2:]
			} else {
				if len(b) < 5 {
					return nil, "short ipma entry"
				}
				item, b = binary.BigEndian.Uint32(b), b[4:]
			}
			count := int(b[0])
			b = b[1:]
			for range count {
				var index uint16
				if wide {
					if len(b) < 2 {
						return nil, "short ipma association"
					}
					index, b = binary.BigEndian.Uint16(b)&0x7FFF, b[2:]
				} else {
					if len(b) < 1 {
						return nil, "short ipma association"
					}
					index, b = uint16(b[0]&0x7F), b[1:]
				}
				if item == primary {
					out = append(out, index)
				}
			}
		}
	}
	return out, ""
}
