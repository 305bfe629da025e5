package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// stateFile is the JSON of the state file.
type stateFile struct {
	Version int          `json:"version"`
	Files   []stateEntry `json:"files"`
}

// stateEntry is one file's acknowledged position.
type stateEntry struct {
	Path   string `json:"path"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
	// Size is the file's size when last read, to tell whether a file that
	// vanished had unread lines.
	Size int64 `json:"size"`
}

// loadState reads path; a missing file is an empty state and first is true.
func loadState(path string) (st stateFile, first bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stateFile{}, true, nil
	}
	if err != nil {
		return stateFile{}, false, fmt.Errorf("read state %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return stateFile{}, false, fmt.Errorf("read state %s: %w", path, err)
	}
	return st, false, nil
}

// saveState writes st to path atomically: a temporary file beside it,
// renamed over it. With sync, the file is fsynced before the rename and
// the directory after it, so the state also survives a power loss.
func saveState(path string, st *stateFile, sync bool) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write state %s: %w", tmp.Name(), err)
	}
	if sync {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return fmt.Errorf("sync state %s: %w", tmp.Name(), err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace state %s: %w", path, err)
	}
	if !sync {
		return nil
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: the rename is done; a crash may keep the older state, which only repeats lines
		d.Close()
	}
	return nil
}
