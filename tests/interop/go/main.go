// Command claimlog-interop exchanges transparency-log data with claimlog's
// Rust implementation through files, using Go's reference implementation
// (golang.org/x/mod/sumdb/note and sumdb/tlog) on this side.
//
// Subcommands:
//
//	gen <dir>              write a signed note, a checkpoint, C2SP tiles, entry
//	                       bundles, roots and proofs computed by Go into <dir>
//	check <dir>            verify the same kind of directory written by Rust
//	check-log <url> <vkey> verify a live tlog-tiles log (checkpoint, tiles,
//	                       a few inclusion proofs) over HTTP
//	foreign-log key        print the foreign log's origin and vkey
//	foreign-log run <witness-url> <witness-vkey>
//	                       act as a log that is not claimlog's and drive a
//	                       tlog-witness through add-checkpoint (foreignlog.go)
//	witness -state DIR [-listen ADDR] [-name NAME] -log VKEY...
//	                       serve a tlog-witness that is not claimlog's
//	                       (witness.go)
//
// The directory layout and the manifest (interop.json) are documented in
// ../README.md. Every failure exits non-zero with a message naming the first
// check that failed.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is the C2SP tlog-tiles tile height (fixed at 8).
const tileHeight = 8

// manifestName is the file, inside an exchange directory, holding the manifest.
const manifestName = "interop.json"

// manifestFormat names the version of the exchange format.
const manifestFormat = "claimlog-interop/v1"

// Manifest is the JSON document describing an exchange directory. Hashes are
// standard padded base64.
type Manifest struct {
	Format      string            `json:"format"`
	Producer    string            `json:"producer"`
	Vkey        string            `json:"vkey"`
	Skey        string            `json:"skey"`
	Note        string            `json:"note"`
	Size        int64             `json:"size"`
	Roots       []RootAt          `json:"roots"`
	Inclusion   []InclusionCase   `json:"inclusion"`
	Consistency []ConsistencyCase `json:"consistency"`
	Tiles       []string          `json:"tiles"`
}

// RootAt is the tree hash of the log's first Size entries.
type RootAt struct {
	Size int64  `json:"size"`
	Root string `json:"root"`
}

// InclusionCase is an RFC 9162 inclusion proof of entry Index in the tree of
// size Size.
type InclusionCase struct {
	Index    int64    `json:"index"`
	Size     int64    `json:"size"`
	LeafHash string   `json:"leaf_hash"`
	Proof    []string `json:"proof"`
}

// ConsistencyCase is an RFC 9162 consistency proof from size Old to size New.
type ConsistencyCase struct {
	Old   int64    `json:"old"`
	New   int64    `json:"new"`
	Proof []string `json:"proof"`
}

func main() {
	args := os.Args[1:]
	var err error
	switch {
	case len(args) == 2 && args[0] == "gen":
		err = gen(args[1])
	case len(args) == 2 && args[0] == "check":
		err = check(args[1])
	case len(args) == 3 && args[0] == "check-log":
		err = checkLog(args[1], args[2])
	case len(args) == 2 && args[0] == "foreign-log" && args[1] == "key":
		err = foreignLogKey()
	case len(args) == 4 && args[0] == "foreign-log" && args[1] == "run":
		err = runForeignLog(args[2], args[3])
	case len(args) >= 1 && args[0] == "witness":
		err = runWitness(args[1:])
	default:
		fmt.Fprintln(os.Stderr, "usage: claimlog-interop gen <dir> | check <dir> | check-log <url> <vkey> |\n"+
			"  foreign-log key | foreign-log run <witness-url> <witness-vkey> |\n"+
			"  witness -state DIR [-listen ADDR] [-name NAME] -log VKEY...")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "claimlog-interop %s: FAIL: %v\n", args[0], err)
		os.Exit(1)
	}
}

// entryData is the content of entry i in the exchanged logs.
func entryData(i int64) []byte {
	return []byte(fmt.Sprintf("entry %d", i))
}

// c2spTilePath maps a Go tile to its C2SP tlog-tiles path. Go's Tile.Path
// includes the height ("tile/8/0/x001/234/067.p/5") and names entry tiles
// "data"; C2SP omits the height and uses "entries" (specs.md §7.2). The index
// encoding (x-prefixed 3-digit groups) and the ".p/<W>" suffix are the same.
func c2spTilePath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", t.H))
	if t.L == -1 {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

// tilesForSize lists the tiles a log of the given size serves: every full
// tile, plus the rightmost partial tile of each level. Go's NewTiles(h, 0, n)
// in x/mod v0.7.0 also lists every narrower partial tile (.p/1 ... .p/W-1),
// which C2SP logs need not keep, so those are dropped here.
func tilesForSize(size int64) []tlog.Tile {
	var out []tlog.Tile
	all := tlog.NewTiles(tileHeight, 0, size)
	for i, t := range all {
		full := t.W == 1<<tileHeight
		widest := i+1 == len(all) || all[i+1].L != t.L || all[i+1].N != t.N
		if full || widest {
			out = append(out, t)
		}
	}
	return out
}

// entryTile is the entry-bundle tile matching a level-0 hash tile.
func entryTile(t tlog.Tile) tlog.Tile {
	t.L = -1
	return t
}

// memoryLog is a log held in memory as Go's stored hashes (specs.md §10).
type memoryLog struct {
	hashes []tlog.Hash
	size   int64
}

// ReadHashes implements tlog.HashReader.
func (m *memoryLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("stored hash index %d out of range (have %d)", x, len(m.hashes))
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

// appendEntry appends one entry, as a log server does.
func (m *memoryLog) appendEntry(data []byte) error {
	hs, err := tlog.StoredHashes(m.size, data, m)
	if err != nil {
		return err
	}
	m.hashes = append(m.hashes, hs...)
	m.size++
	return nil
}

// encodeBundle encodes entries as a C2SP entry bundle: u16 big-endian length
// followed by the bytes, for each entry (specs.md §7.3).
func encodeBundle(entries [][]byte) ([]byte, error) {
	var buf bytes.Buffer
	for _, e := range entries {
		if len(e) > 0xffff {
			return nil, fmt.Errorf("entry of %d bytes does not fit a bundle", len(e))
		}
		var l [2]byte
		binary.BigEndian.PutUint16(l[:], uint16(len(e)))
		buf.Write(l[:])
		buf.Write(e)
	}
	return buf.Bytes(), nil
}

// decodeBundle decodes an entry bundle of exactly want entries, rejecting
// truncation and trailing bytes.
func decodeBundle(data []byte, want int) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(out) == want {
			return nil, fmt.Errorf("bundle has trailing data after %d entries", want)
		}
		if len(data) < 2 {
			return nil, errors.New("bundle truncated in a length prefix")
		}
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		if len(data) < n {
			return nil, fmt.Errorf("bundle truncated in entry %d", len(out))
		}
		out = append(out, data[:n])
		data = data[n:]
	}
	if len(out) != want {
		return nil, fmt.Errorf("bundle has %d entries, want %d", len(out), want)
	}
	return out, nil
}

// Checkpoint is a parsed C2SP tlog-checkpoint body (specs.md §3).
type Checkpoint struct {
	Origin     string
	Size       int64
	Root       tlog.Hash
	Extensions []string
}

// parseCheckpoint parses the text of a checkpoint note strictly: an origin,
// a canonical decimal size, a canonical base64 root, then optional non-empty
// extension lines. Go's tlog.ParseTree only accepts the sumdb origin, so the
// checkpoint body is parsed here.
func parseCheckpoint(text string) (Checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, errors.New("checkpoint text does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, fmt.Errorf("checkpoint has %d lines, want at least 3", len(lines))
	}
	if lines[0] == "" {
		return Checkpoint{}, errors.New("checkpoint origin is empty")
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint size: %v", err)
	}
	root, err := parseHash(lines[2])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint root: %v", err)
	}
	for _, ext := range lines[3:] {
		if ext == "" {
			return Checkpoint{}, errors.New("checkpoint has an empty extension line")
		}
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root, Extensions: lines[3:]}, nil
}

// formatCheckpoint formats a checkpoint body without extension lines.
func formatCheckpoint(origin string, size int64, root tlog.Hash) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
}

// parseDecimal parses a canonical non-negative decimal (no sign, no leading
// zeros) that fits in an int64.
func parseDecimal(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("%q is not a canonical decimal", s)
	}
	return n, nil
}

// parseHash parses a canonical, padded standard base64 hash of 32 bytes.
// Go's decoder tolerates non-zero padding bits, so the result must also
// re-encode to the input.
func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != tlog.HashSize || base64.StdEncoding.EncodeToString(b) != s {
		return h, fmt.Errorf("%q is not a canonical base64 32-byte hash", s)
	}
	copy(h[:], b)
	return h, nil
}

// parseHashes parses a list of base64 hashes.
func parseHashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		h, err := parseHash(s)
		if err != nil {
			return nil, fmt.Errorf("hash %d: %v", i, err)
		}
		out[i] = h
	}
	return out, nil
}

// formatHashes formats hashes as standard padded base64.
func formatHashes(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out
}

// emptyRoot is the RFC 9162 hash of the empty tree, SHA-256("").
func emptyRoot() tlog.Hash {
	return tlog.Hash(sha256.Sum256(nil))
}

// readManifest reads and strictly decodes dir/interop.json.
func readManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: trailing data", path)
	}
	if m.Format != manifestFormat {
		return nil, fmt.Errorf("%s: format %q, want %q", path, m.Format, manifestFormat)
	}
	return &m, nil
}
