//go:build !unix

package agent

import "os"

// fileID is a file's identity; without inodes, its name.
type fileID struct {
	Dev, Ino uint64
	name     string
}

func idOf(fi os.FileInfo) (fileID, bool) { return fileID{name: fi.Name()}, true }

func linked(os.FileInfo) bool { return true }
