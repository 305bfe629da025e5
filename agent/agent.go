package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/ship"
)

// Sink is where the agent sends messages: a *ship.Shipper. The agent is
// its only producer, and Add numbers the lines it takes 1, 2, 3, … (a
// failed Add takes no number): the agent records where a line ends under
// the number it will get before it calls Add, so an acknowledgement that
// arrives while Add is returning already finds the line's position.
type Sink interface {
	Add(ctx context.Context, m *sluice.Message) (uint64, error)
	Acked() uint64
	Report(app, text string)
}

var _ Sink = (*ship.Shipper)(nil)

// Defaults of Config.
const (
	DefaultPoll = 250 * time.Millisecond
	// stateSync is the least time between two fsyncs of the state file.
	stateSync = time.Second
	// readBudget bounds what one file may read per round, so one busy
	// file does not starve the others.
	readBudget = 4 << 20
)

// Config configures an Agent.
type Config struct {
	Globs []string
	// State is the state file's path; "" keeps no state.
	State string
	// FromEnd starts the files found at the very first start (no state
	// file yet) at their end instead of their beginning.
	FromEnd   bool
	Poll      time.Duration
	Multiline bool
	// App and Proc are templates (see metaOf for the fields); "" picks
	// "{pod}"/"{container}" for Kubernetes logs, "{id}"/"{id}" for Docker
	// and "{name}"/"{name}" for plain files.
	App, Proc string
	Source    string
	Host      string
	MaxLine   int
	Errors    *ship.ErrLog
}

// Agent follows files and hands their lines to a Sink.
type Agent struct {
	cfg   Config
	sink  Sink
	files map[fileID]*follower
	saved map[fileID]stateEntry // positions from the state file not yet matched
	first bool                  // there was no state file
	round int
	buf   []byte

	// mu guards everything above and below: Run holds it except while
	// Add may block and between rounds; OnAck takes it to write the state.
	mu      sync.Mutex
	lastSeq uint64 // the sequence number of the last line Added

	lastSync   time.Time // of the last fsync of the state file
	savedAcked uint64    // the sink's Acked at the last write
	lastState  []stateEntry
}

// mark is the file offset after a message, by the message's sequence.
type mark struct {
	seq uint64
	end int64
}

// follower is one open file.
type follower struct {
	id     fileID
	path   string
	f      *os.File
	app    string
	proc   string
	format format
	off    int64 // bytes consumed
	size   int64 // size at the last read
	seen   bool  // matched by a glob this round
	unseen int   // rounds in a row not matched
	closed bool

	part []byte // an unterminated physical line

	// A CRI/Docker partial line being joined.
	joining  bool
	join     []byte
	joinTime time.Time
	joinErr  bool

	// A --multiline event being held for continuation lines.
	holding   bool
	held      []byte
	heldTime  time.Time
	heldErr   bool
	heldEnd   int64
	heldRound int
	heldTB    bool

	pending   []mark
	committed int64
}

// New returns an Agent; Run starts it.
func New(cfg Config, sink Sink) (*Agent, error) {
	if len(cfg.Globs) == 0 {
		return nil, errors.New("agent: no globs")
	}
	for _, g := range cfg.Globs {
		if _, err := filepath.Match(g, ""); err != nil {
			return nil, fmt.Errorf("glob %q: %w", g, err)
		}
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = ship.DefaultMaxLineBytes
	}
	if cfg.Source == "" {
		cfg.Source = "app"
	}
	a := &Agent{cfg: cfg, sink: sink, files: map[fileID]*follower{}, saved: map[fileID]stateEntry{},
		buf: make([]byte, 64<<10)}
	if cfg.State != "" {
		st, first, err := loadState(cfg.State)
		if err != nil {
			return nil, err
		}
		a.first = first
		for _, e := range st.Files {
			a.saved[fileID{Dev: e.Dev, Ino: e.Ino}] = e
		}
	} else {
		a.first = true
	}
	return a, nil
}

// Run follows the files until ctx ends. It returns ctx's error only when a
// blocked Add was interrupted; then Save records what was acknowledged.
func (a *Agent) Run(ctx context.Context) error {
	tick := time.NewTicker(a.cfg.Poll)
	defer tick.Stop()
	for {
		if err := a.runRound(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// runRound is one round of Run, under a.mu.
func (a *Agent) runRound(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.scan()
	if a.round == 0 {
		a.resumeUnmatched()
	}
	for _, fl := range a.files {
		if err := a.read(ctx, fl); err != nil {
			return err
		}
	}
	a.round++
	a.maybeSave(false)
	return nil
}

// OnAck writes the state file for the acknowledgement seq at once: wire it
// as the shipper's Config.OnAck, which runs on the sending goroutine before
// the next batch is taken, so the state on disk is never more than the
// batch in flight behind what the router has. It may be called before Run
// and after it returned.
func (a *Agent) OnAck(seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if seq != a.savedAcked {
		a.maybeSave(false)
	}
}

// scan expands the globs and opens the files not yet followed.
func (a *Agent) scan() {
	for _, fl := range a.files {
		fl.seen = false
	}
	for _, g := range a.cfg.Globs {
		paths, _ := filepath.Glob(g)
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			id, ok := idOf(fi)
			if !ok {
				continue
			}
			if fl := a.files[id]; fl != nil {
				fl.seen = true
				continue
			}
			var start int64
			if e, ok := a.saved[id]; ok {
				start = e.Offset
				delete(a.saved, id)
			} else if a.first && a.round == 0 && a.cfg.FromEnd {
				start = -1
			}
			if fl := a.open(p, start); fl != nil {
				fl.seen = true
			}
		}
	}
}

// resumeUnmatched handles state entries no glob matched at the first round:
// a file renamed out of the globs (rotated) is read from its position to
// its end; one that is gone with unread bytes is reported lost (L13).
func (a *Agent) resumeUnmatched() {
	for id, e := range a.saved {
		delete(a.saved, id)
		if fi, err := os.Stat(e.Path); err == nil {
			if fid, ok := idOf(fi); ok && fid == id {
				a.open(e.Path, e.Offset)
				continue
			}
		}
		if e.Size > e.Offset {
			meta := metaOf(e.Path)
			a.sink.Report(a.appOf(meta), fmt.Sprintf("Error L13: %d unread bytes of %s lost since %s (the file was removed while the agent was stopped).",
				e.Size-e.Offset, e.Path, time.Now().UTC().Format(time.RFC3339)))
		}
	}
}

// open starts following path at start (-1: its end). A start beyond the
// file's size means it was truncated meanwhile: it is read from 0.
func (a *Agent) open(path string, start int64) *follower {
	f, err := os.Open(path)
	if err != nil {
		a.cfg.Errors.Printf("open", "open %s: %v", path, err)
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil
	}
	id, _ := idOf(fi)
	if a.files[id] != nil {
		f.Close()
		return a.files[id]
	}
	if start < 0 {
		start = fi.Size()
	}
	if start > fi.Size() {
		start = 0
	}
	meta := metaOf(path)
	fl := &follower{id: id, path: path, f: f, app: a.appOf(meta), proc: a.procOf(meta), format: meta.format,
		off: start, committed: start, size: fi.Size()}
	a.files[id] = fl
	return fl
}

func (a *Agent) appOf(m fileMeta) string {
	t := a.cfg.App
	if t == "" {
		t = map[format]string{formatCRI: "{pod}", formatDocker: "{id}", formatPlain: "{name}"}[m.format]
	}
	return expand(t, m.fields)
}

func (a *Agent) procOf(m fileMeta) string {
	t := a.cfg.Proc
	if t == "" {
		t = map[format]string{formatCRI: "{container}", formatDocker: "{id}", formatPlain: "{name}"}[m.format]
	}
	return expand(t, m.fields)
}

// read reads fl from its offset to its end (at most readBudget), handles
// truncation, and closes it once it is no longer matched and read out.
func (a *Agent) read(ctx context.Context, fl *follower) error {
	if fl.closed {
		a.commit(fl)
		return nil
	}
	fi, err := fl.f.Stat()
	if err != nil {
		return a.finish(ctx, fl)
	}
	if fi.Size() < fl.off {
		// copytruncate: what was written between our last read and the
		// truncation is gone; the rest starts again at 0.
		if fl.size > fl.off {
			a.sink.Report(fl.app, fmt.Sprintf("Error L13: %d unread bytes of %s lost since %s (truncated before they were read).",
				fl.size-fl.off, fl.path, time.Now().UTC().Format(time.RFC3339)))
		}
		if err := a.flushAll(ctx, fl); err != nil {
			return err
		}
		fl.off, fl.committed = 0, 0
		for i := range fl.pending {
			fl.pending[i].end = 0
		}
	}
	fl.size = fi.Size()
	budget := readBudget
	for fl.off < fl.size && budget > 0 {
		n, err := fl.f.ReadAt(a.buf[:min(len(a.buf), budget)], fl.off)
		if n > 0 {
			budget -= n
			if err := a.consume(ctx, fl, a.buf[:n]); err != nil {
				return err
			}
		}
		if err != nil {
			break
		}
	}
	if fl.off >= fl.size && fl.holding && fl.heldRound < a.round {
		if err := a.emitHeld(ctx, fl); err != nil {
			return err
		}
	}
	if !fl.seen {
		fl.unseen++
	} else {
		fl.unseen = 0
	}
	if fl.off >= fl.size && (fl.unseen >= 2 || (!fl.seen && !linked(fi))) {
		return a.finish(ctx, fl)
	}
	a.commit(fl)
	return nil
}

// consume splits a chunk read at fl.off into physical lines.
func (a *Agent) consume(ctx context.Context, fl *follower, chunk []byte) error {
	start := fl.off
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			fl.part = append(fl.part, chunk...)
			fl.off += int64(len(chunk))
			for len(fl.part) > a.cfg.MaxLine {
				// A physical line longer than a message: emit it in parts.
				n := a.cfg.MaxLine
				rest := append([]byte(nil), fl.part[n:]...)
				if err := a.physical(ctx, fl, fl.part[:n], fl.off-int64(len(rest))); err != nil {
					return err
				}
				fl.part = append(fl.part[:0], rest...)
			}
			return nil
		}
		end := start + int64(i) + 1
		var l []byte
		if len(fl.part) > 0 {
			fl.part = append(fl.part, chunk[:i]...)
			l = fl.part
		} else {
			l = chunk[:i]
		}
		fl.off = end
		if err := a.physical(ctx, fl, bytes.TrimSuffix(l, []byte{'\r'}), end); err != nil {
			return err
		}
		fl.part = fl.part[:0]
		chunk = chunk[i+1:]
		start = end
	}
	return nil
}

// physical handles one physical line ending at file offset end.
func (a *Agent) physical(ctx context.Context, fl *follower, raw []byte, end int64) error {
	var l line
	switch fl.format {
	case formatCRI:
		l = decodeCRI(raw)
	case formatDocker:
		l = decodeDocker(raw)
	default:
		l = line{text: raw}
	}
	if l.time.IsZero() {
		l.time = time.Now()
	}
	if l.partial || fl.joining {
		if !fl.joining {
			fl.joining, fl.joinTime, fl.joinErr = true, l.time, l.stderr
			fl.join = fl.join[:0]
		}
		if len(fl.join)+len(l.text) > a.cfg.MaxLine {
			if err := a.event(ctx, fl, fl.join, fl.joinTime, fl.joinErr, end); err != nil {
				return err
			}
			fl.join = fl.join[:0]
		}
		fl.join = append(fl.join, l.text...)
		if l.partial {
			return nil
		}
		fl.joining = false
		return a.event(ctx, fl, fl.join, fl.joinTime, fl.joinErr, end)
	}
	return a.event(ctx, fl, l.text, l.time, l.stderr, end)
}

// event handles one logical line: joined into a held multi-line event, or
// emitted.
func (a *Agent) event(ctx context.Context, fl *follower, text []byte, t time.Time, stderr bool, end int64) error {
	if !a.cfg.Multiline {
		return a.emit(ctx, fl, text, t, stderr, end)
	}
	if fl.holding && continues(text, fl.heldTB) && len(fl.held)+1+len(text) <= a.cfg.MaxLine {
		fl.held = append(append(fl.held, '\n'), text...)
		fl.heldEnd, fl.heldRound = end, a.round
		switch {
		case bytes.HasPrefix(text, []byte("Traceback ")):
			fl.heldTB = true
		case text[0] != ' ' && text[0] != '\t':
			fl.heldTB = false // the exception line ends the traceback
		}
		return nil
	}
	if fl.holding {
		if err := a.emitHeld(ctx, fl); err != nil {
			return err
		}
	}
	fl.holding, fl.heldTime, fl.heldErr, fl.heldEnd, fl.heldRound = true, t, stderr, end, a.round
	fl.held = append(fl.held[:0], text...)
	fl.heldTB = bytes.HasPrefix(text, []byte("Traceback "))
	return nil
}

func (a *Agent) emitHeld(ctx context.Context, fl *follower) error {
	fl.holding = false
	return a.emit(ctx, fl, fl.held, fl.heldTime, fl.heldErr, fl.heldEnd)
}

// flushAll emits what fl holds: an unterminated line, a partial join, a
// held event.
func (a *Agent) flushAll(ctx context.Context, fl *follower) error {
	if len(fl.part) > 0 {
		p := append([]byte(nil), fl.part...)
		fl.part = fl.part[:0]
		if err := a.physical(ctx, fl, p, fl.off); err != nil {
			return err
		}
	}
	if fl.joining {
		fl.joining = false
		if err := a.event(ctx, fl, fl.join, fl.joinTime, fl.joinErr, fl.off); err != nil {
			return err
		}
	}
	if fl.holding {
		return a.emitHeld(ctx, fl)
	}
	return nil
}

// emit hands one message to the sink and remembers where it ended.
func (a *Agent) emit(ctx context.Context, fl *follower, text []byte, t time.Time, stderr bool, end int64) error {
	if !utf8.Valid(text) {
		text = bytes.ToValidUTF8(text, []byte("\uFFFD"))
	}
	m := sluice.Message{Time: t, App: fl.app, Source: a.cfg.Source, Proc: fl.proc, Host: a.cfg.Host,
		Text: string(text), Facility: sluice.DefaultFacility, Severity: 6}
	if stderr {
		m.Severity = 3
	}
	// The mark goes in first, under the number Add will give the line,
	// so that OnAck, which may run as soon as a.mu is released, finds it.
	want := a.lastSeq + 1
	fl.pending = append(fl.pending, mark{seq: want, end: end})
	a.mu.Unlock()
	seq, err := a.sink.Add(ctx, &m)
	a.mu.Lock()
	// OnAck may have taken acknowledged marks off the front meanwhile
	// (this one too, if the line was sent that fast); marks are only
	// appended here, so if this one is still there it is the last.
	last := len(fl.pending) - 1
	if err != nil {
		if last >= 0 && fl.pending[last].seq == want {
			fl.pending = fl.pending[:last]
		}
		return err
	}
	a.lastSeq = seq
	if seq != want && last >= 0 && fl.pending[last].seq == want { // a sink that breaks the numbering: late, but right
		fl.pending[last].seq = seq
	}
	if a.sink.Acked() != a.savedAcked {
		a.maybeSave(false)
	}
	return nil
}

// finish emits what fl holds and closes it; it stays known until its
// messages are acknowledged.
func (a *Agent) finish(ctx context.Context, fl *follower) error {
	if err := a.flushAll(ctx, fl); err != nil {
		return err
	}
	fl.f.Close()
	fl.closed = true
	a.commit(fl)
	return nil
}

// commit advances fl.committed over the acknowledged messages.
func (a *Agent) commit(fl *follower) {
	acked := a.sink.Acked()
	i := 0
	for ; i < len(fl.pending) && fl.pending[i].seq <= acked; i++ {
		fl.committed = fl.pending[i].end
	}
	fl.pending = fl.pending[:copy(fl.pending, fl.pending[i:])]
	if len(fl.pending) == 0 && !fl.holding && !fl.joining && len(fl.part) == 0 {
		fl.committed = fl.off
	}
	if fl.closed && len(fl.pending) == 0 {
		delete(a.files, fl.id)
	}
}

// maybeSave writes the state file when positions moved (or force). The
// write is a rename of a complete file, so a kill -9 finds either the old
// or the new state, and it happens as soon as the loop sees an ack: a
// restart repeats at most the batch that was in flight. The fsync that
// makes it survive a power loss as well happens at most every stateSync.
func (a *Agent) maybeSave(force bool) {
	if a.cfg.State == "" {
		return
	}
	acked := a.sink.Acked()
	st := stateFile{Version: 1, Files: make([]stateEntry, 0, len(a.files))}
	for _, fl := range a.files {
		a.commit(fl)
		if fl.closed && len(fl.pending) == 0 {
			continue
		}
		st.Files = append(st.Files, stateEntry{Path: fl.path, Dev: fl.id.Dev, Ino: fl.id.Ino, Offset: fl.committed, Size: fl.size})
	}
	a.savedAcked = acked
	if !force && sameState(st.Files, a.lastState) {
		return
	}
	sync := force || time.Since(a.lastSync) >= stateSync
	if err := saveState(a.cfg.State, &st, sync); err != nil {
		a.cfg.Errors.Printf("state", "%v", err)
		return
	}
	if sync {
		a.lastSync = time.Now()
	}
	a.lastState = st.Files
}

func sameState(x, y []stateEntry) bool {
	if len(x) != len(y) {
		return false
	}
	byID := make(map[[2]uint64]stateEntry, len(y))
	for _, e := range y {
		byID[[2]uint64{e.Dev, e.Ino}] = e
	}
	for _, e := range x {
		if o, ok := byID[[2]uint64{e.Dev, e.Ino}]; !ok || o.Offset != e.Offset || o.Path != e.Path {
			return false
		}
	}
	return true
}

// Save writes the state file now, with the positions acknowledged so far
// (call it after the shipper was closed, so the last batch counts).
func (a *Agent) Save() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.maybeSave(true)
}

// Close closes the open files.
func (a *Agent) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, fl := range a.files {
		if !fl.closed {
			fl.f.Close()
		}
	}
}
