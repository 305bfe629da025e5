//go:build unix

package agent

import (
	"os"
	"syscall"
)

// fileID is a file's identity: device and inode.
type fileID struct{ Dev, Ino uint64 }

func idOf(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, true //nolint:unconvert // Dev is int32 on darwin
}

// linked reports whether the open file still has a name (it was not
// deleted).
func linked(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || st.Nlink > 0
}
