package ferry

// MIMEType returns the media type of an image in format f, for a Content-Type header:
// "image/jpeg", "image/png", "image/webp" or "image/gif" (GIF is read, never written). A Format
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
	case FormatAVIF:
		return "image/avif"
	case FormatHEIC:
		return "image/heic"
	}
	return ""
}
