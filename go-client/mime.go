package ferry

// MIMEType returns the media type of an image in format f, for a Content-Type header:
// "image/jpeg", "image/png", "image/webp", "image/gif", "image/heic" or "image/avif" (GIF and HEIC
// are read, never written). A Format
// this package does not name returns "", so that a caller notices rather than serving a guess.
//
//	w.Header().Set("Content-Type", res.Format.MIMEType())
func (f Format) MIMEType() string {
	switch f {
	case FormatJPEG:
		return "image/jpeg"
	case FormatPNG:
		return "image/png"
	case FormatWebP:
		return "image/webp"
	case FormatGIF:
		return "image/gif"
	case FormatHEIC:
		return "image/heic"
	case FormatAVIF:
		return "image/avif"
	}
	return ""
}
