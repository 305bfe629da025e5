package agent

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// format is how a file's lines are written.
type format uint8

const (
	formatPlain  format = iota
	formatCRI           // TIME STREAM P|F MSG (containerd, CRI-O); Docker JSON lines are detected too
	formatDocker        // {"log":"…\n","stream":"stdout","time":"…"}
)

// fileMeta is what a file's name says: its format and the template fields.
type fileMeta struct {
	format format
	fields map[string]string
}

// k8sName is a kubelet container log link: <pod>_<namespace>_<container>-<id>.log.
var k8sName = regexp.MustCompile(`^([a-z0-9][-a-z0-9.]*)_([a-z0-9][-a-z0-9]*)_(.+)-([0-9a-f]{64})\.log$`)

// dockerName is Docker's json-file log: <id>-json.log.
var dockerName = regexp.MustCompile(`^([0-9a-f]{64})-json\.log$`)

// metaOf names a file. Fields: {name} (the base name without .log, or the
// container id for Docker), {pod} (without its controller's hash suffix),
// {pod_full}, {namespace}, {container}, {id} (12 hex digits), {dir} (the
// parent directory's base name).
func metaOf(path string) fileMeta {
	base := filepath.Base(path)
	f := map[string]string{
		"name": strings.TrimSuffix(base, ".log"),
		"dir":  filepath.Base(filepath.Dir(path)),
	}
	if m := k8sName.FindStringSubmatch(base); m != nil {
		f["pod_full"], f["pod"], f["namespace"], f["container"], f["id"] = m[1], podApp(m[1]), m[2], m[3], m[4][:12]
		return fileMeta{format: formatCRI, fields: f}
	}
	if m := dockerName.FindStringSubmatch(base); m != nil {
		f["id"], f["name"], f["container"] = m[1][:12], m[1][:12], m[1][:12]
		return fileMeta{format: formatDocker, fields: f}
	}
	return fileMeta{format: formatPlain, fields: f}
}

// podApp strips the suffixes controllers add to a pod's name: a
// ReplicaSet's pod-template-hash and the pod's random suffix
// (web-7d4b9c8f6d-x2x9z → web), a DaemonSet's or Job's random suffix
// (agent-x2x9z → agent), a StatefulSet's ordinal (db-0 → db).
func podApp(pod string) string {
	parts := strings.Split(pod, "-")
	if len(parts) < 2 {
		return pod
	}
	last := parts[len(parts)-1]
	switch {
	case len(last) == 5 && safeAlnum(last):
		parts = parts[:len(parts)-1]
		if n := len(parts); n >= 2 && len(parts[n-1]) >= 6 && len(parts[n-1]) <= 10 && safeAlnum(parts[n-1]) {
			parts = parts[:n-1]
		}
	case allDigits(last):
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, "-")
}

// safeAlnum reports whether s uses only the alphabet of Kubernetes'
// generated name suffixes (no vowels, no 0 1 3).
func safeAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", rune(s[i])) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// expand fills {field} placeholders of tmpl; unknown fields become "".
// Characters a Sluice app name may not hold (space, controls) become "_".
func expand(tmpl string, fields map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			break
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			b.WriteString(tmpl)
			break
		}
		b.WriteString(tmpl[:i])
		b.WriteString(fields[tmpl[i+1:i+j]])
		tmpl = tmpl[i+j+1:]
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' {
			return '_'
		}
		return r
	}, b.String())
}

// line is one physical line decoded: its text, whether it continues in the
// next line (a CRI "P" or a Docker line without its newline), its stream
// and time (zero when the line carried none).
type line struct {
	text    []byte
	partial bool
	stderr  bool
	time    time.Time
}

// decodeCRI reads "2024-01-02T03:04:05.123456789Z stdout F text". A line
// that is not CRI is taken whole as plain text.
func decodeCRI(b []byte) line {
	if len(b) > 0 && b[0] == '{' {
		return decodeDocker(b)
	}
	ts, rest, ok1 := bytes.Cut(b, []byte{' '})
	stream, rest, ok2 := bytes.Cut(rest, []byte{' '})
	tag, msg, ok3 := bytes.Cut(rest, []byte{' '})
	if !ok3 && ok2 && len(rest) == 1 {
		tag, msg, ok3 = rest, nil, true // an empty message: "TIME stdout F"
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if !ok1 || !ok2 || !ok3 || err != nil || (string(stream) != "stdout" && string(stream) != "stderr") || len(tag) == 0 {
		return line{text: b}
	}
	// The tag is P or F, possibly followed by ":"-separated flags.
	return line{text: msg, partial: tag[0] == 'P', stderr: string(stream) == "stderr", time: t}
}

// dockerLine is one json-file record.
type dockerLine struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// decodeDocker reads one json-file line; a line that is not one is taken
// whole as plain text.
func decodeDocker(b []byte) line {
	var d dockerLine
	if err := json.Unmarshal(b, &d); err != nil {
		return line{text: b}
	}
	text, full := strings.CutSuffix(d.Log, "\n")
	return line{text: []byte(text), partial: !full, stderr: d.Stream == "stderr", time: d.Time}
}

// continues reports whether text continues the previous event under
// --multiline: it starts with whitespace, is a Java "Caused by:" or
// "... N more", or is a Python traceback's header. inTraceback says the
// event so far holds a Python traceback, whose last line (the exception,
// unindented) belongs to it too.
func continues(text []byte, inTraceback bool) bool {
	if len(text) == 0 {
		return false
	}
	switch {
	case text[0] == ' ' || text[0] == '\t':
		return true
	case bytes.HasPrefix(text, []byte("Caused by:")), bytes.HasPrefix(text, []byte("Traceback (most recent call last):")),
		bytes.HasPrefix(text, []byte("During handling of the above exception")),
		bytes.HasPrefix(text, []byte("The above exception was the direct cause")):
		return true
	case inTraceback && pythonException.Match(text):
		return true
	}
	return false
}

// pythonException is the last line of a traceback: "ValueError: bad" or
// "pkg.mod.Error".
var pythonException = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception|Exit|Interrupt|Warning|Iteration)\b`)
