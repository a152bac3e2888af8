package router

import ferry "github.com/ferryd/ferry/go-client"

// costRoutes is a CostTable compiled for RouteAuto's decision, which runs on every request:
// checksum thresholds in arrays indexed by algorithm instead of maps keyed by name. Right after
// a socket call has left the caches cold, hashing a name and walking a map cost about 80 ns,
// 5% of a 4 KiB checksum kept in Go (ferry-bench -auto-only); an array is one cache line.
type costRoutes struct {
	checksum, checksumFile [len(tabledAlgorithms)]Threshold
	table                  *CostTable // for resizes, which read the image header anyway
}

// tabledAlgorithms are the algorithms a CostTable may name, in costRoutes' index order.
var tabledAlgorithms = [...]ferry.Algorithm{ferry.CRC32C, ferry.XXH3_64, ferry.SHA256, ferry.BLAKE3}

// algorithmIndex is a's index in tabledAlgorithms, -1 for any other name.
func algorithmIndex(a ferry.Algorithm) int {
	switch a {
	case ferry.CRC32C:
		return 0
	case ferry.XXH3_64:
		return 1
	case ferry.SHA256:
		return 2
	case ferry.BLAKE3:
		return 3
	}
	return -1
}

// compileRoutes compiles a validated table. An algorithm the table does not name goes to the
// daemon at every size (threshold 0); files route by the bytes map when the table has no map
// of their own.
func compileRoutes(t *CostTable) *costRoutes {
	files := t.ChecksumFileBytes
	if len(files) == 0 {
		files = t.ChecksumBytes
	}
	r := &costRoutes{table: t}
	for i, a := range tabledAlgorithms {
		r.checksum[i] = t.ChecksumBytes[a] // 0 when absent
		r.checksumFile[i] = files[a]
	}
	return r
}

// checksumToRust says whether the daemon serves a checksum of n bytes faster: when it does for
// any one of the algorithms (see CostTable).
func (r *costRoutes) checksumToRust(algs []ferry.Algorithm, n int) bool {
	return anyReaches(&r.checksum, algs, n)
}

// checksumFileToRust is checksumToRust for a file of n bytes passed by descriptor.
func (r *costRoutes) checksumFileToRust(algs []ferry.Algorithm, n int) bool {
	return anyReaches(&r.checksumFile, algs, n)
}

func anyReaches(thresholds *[len(tabledAlgorithms)]Threshold, algs []ferry.Algorithm, n int) bool {
	if len(algs) == 0 {
		return true // the daemon answers the invalid request with its own error
	}
	for _, a := range algs {
		i := algorithmIndex(a)
		if i < 0 || thresholds[i].reaches(int64(n)) {
			return true // an unknown name too: the daemon refuses it with a typed error
		}
	}
	return false
}

// resizeToRust says whether the daemon serves a resize of img faster (see CostTable).
func (r *costRoutes) resizeToRust(img []byte) bool { return r.table.resizeToRust(img) }
