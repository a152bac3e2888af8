package router

import "os"

// fileLen is the size of a request's File for the cost table (0 when it cannot be read: the
// path chosen then refuses the file with its own bad_file).
func fileLen(f *os.File) int {
	info, err := f.Stat()
	if err != nil {
		return 0
	}
	return int(min(info.Size(), int64(^uint(0)>>1)))
}
