// Writes Specs/vectors/tar.json: tar streams from Go's own archive/tar (what kubo's `get`
// uses through boxo's TarWriter), for PinMesh's TarWriter to match byte for byte.
//
//	go run Tests/Compat/make_tar_vectors.go > Specs/vectors/tar.json
//
// Each case is one entry (files carry `size` bytes of "x"), written with Format unset
// (kubo's --archive) or FormatPAX (kubo's transport), followed by the writer's Close.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"time"
)

type Case struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Size     int64  `json:"size"`
	Target   string `json:"target"`
	Mode     int64  `json:"mode"`
	Seconds  int64  `json:"seconds"`
	Nanos    int64  `json:"nanoseconds"`
	PAX      bool   `json:"pax"`
	TarB64   string `json:"tar"`
}

func main() {
	long := strings.Repeat("a", 90) + "/" + strings.Repeat("b", 90)
	cases := []Case{
		{Name: "d", Kind: "dir", Mode: 0o755, Seconds: 1700000000},
		{Name: "d/a.txt", Kind: "file", Size: 5, Mode: 0o644, Seconds: 1700000000},
		{Name: "d/link", Kind: "symlink", Target: "a.txt", Mode: 0o777, Seconds: 1700000000},
		{Name: long, Kind: "file", Size: 3, Mode: 0o644, Seconds: 1},
		{Name: strings.Repeat("c", 150), Kind: "file", Size: 0, Mode: 0o644, Seconds: 1},
		{Name: "dir/d\u00e9.txt", Kind: "file", Size: 1, Mode: 0o600, Seconds: 1700000000},
		{Name: "t", Kind: "file", Size: 512, Mode: 0o644, Seconds: 1700000000, Nanos: 600000000},
		{Name: "t", Kind: "file", Size: 513, Mode: 0o644, Seconds: 1700000000, Nanos: 400000000},
		{Name: "p/q/r.bin", Kind: "file", Size: 2, Mode: 0o644, Seconds: 1700000000, Nanos: 123456789, PAX: true},
		{Name: "whole", Kind: "dir", Mode: 0o755, Seconds: 1700000000, PAX: true},
		{Name: "ln", Kind: "symlink", Target: strings.Repeat("z", 120), Mode: 0o777, Seconds: 5},
		{Name: "suid", Kind: "file", Size: 1, Mode: 0o4755, Seconds: 5},
		{Name: long + "/\u00fcber", Kind: "dir", Mode: 0o755, Seconds: 7, Nanos: 5, PAX: true},
	}
	for i := range cases {
		c := &cases[i]
		var buf bytes.Buffer
		w := tar.NewWriter(&buf)
		h := &tar.Header{Name: c.Name, Size: c.Size, Mode: c.Mode, ModTime: time.Unix(c.Seconds, c.Nanos)}
		if c.PAX {
			h.Format = tar.FormatPAX
		}
		switch c.Kind {
		case "dir":
			h.Typeflag = tar.TypeDir
		case "symlink":
			h.Typeflag = tar.TypeSymlink
			h.Linkname = c.Target
		default:
			h.Typeflag = tar.TypeReg
		}
		if err := w.WriteHeader(h); err != nil {
			panic(err)
		}
		if c.Size > 0 {
			w.Write(bytes.Repeat([]byte("x"), int(c.Size)))
		}
		w.Close()
		c.TarB64 = base64.StdEncoding.EncodeToString(buf.Bytes())
	}
	e := json.NewEncoder(os.Stdout)
	e.SetIndent("", " ")
	e.Encode(map[string]interface{}{
		"about": "tar streams written by Go's archive/tar (go1.19) as boxo's TarWriter drives it; made by Tests/Compat/make_tar_vectors.go",
		"cases": cases,
	})
}
