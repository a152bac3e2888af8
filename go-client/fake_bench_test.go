package ferry

import (
	"context"
	"testing"
)

// BenchmarkFakeChecksum sends large checksum requests to the in-process fake server, which reads
// whole frames with one buffered reader: the client's write path, without ferryd's read path.
// Compare with BenchmarkChecksum (the real daemon) to see which side a large payload waits on.
func BenchmarkFakeChecksum(b *testing.B) {
	s := newFakeServer(b, nil)
	c, err := Dial(context.Background(), s.path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, size := range []struct {
		name string
		n    int
	}{{"1MiB", 1 << 20}, {"64MiB", 64 << 20}} {
		req := ChecksumRequest{Data: make([]byte, size.n), Algorithms: []Algorithm{CRC32C}}
		b.Run(size.name, func(b *testing.B) {
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Checksum(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
