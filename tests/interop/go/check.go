package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// maxCheckSize caps the log size check accepts, so that a corrupted manifest
// cannot make it allocate without bound.
const maxCheckSize = 1 << 24

// check verifies an exchange directory written by another implementation.
// It returns an error naming the first check that failed.
func check(dir string) error {
	m, err := readManifest(filepath.Join(dir, manifestName))
	if err != nil {
		return err
	}
	if m.Size < 0 || m.Size > maxCheckSize {
		return fmt.Errorf("manifest size %d out of range", m.Size)
	}
	verifier, err := note.NewVerifier(m.Vkey)
	if err != nil {
		return fmt.Errorf("vkey %q: %v", m.Vkey, err)
	}
	verifiers := note.VerifierList(verifier)

	// 1. The plain signed note. Ed25519 is deterministic, so Go signing the
	// same text with the same signer key must give the same bytes.
	signer, err := note.NewSigner(m.Skey)
	if err != nil {
		return fmt.Errorf("signer key: %v", err)
	}
	if signer.Name() != verifier.Name() || signer.KeyHash() != verifier.KeyHash() {
		return fmt.Errorf("signer key %s+%08x does not match the vkey", signer.Name(), signer.KeyHash())
	}
	n, err := note.Open([]byte(m.Note), verifiers)
	if err != nil {
		return fmt.Errorf("note.Open(note): %v", err)
	}
	if err := sameAsGoSigned(n.Text, m.Note, signer); err != nil {
		return fmt.Errorf("note: %v", err)
	}

	// 2. The signed checkpoint.
	cpBytes, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return err
	}
	cpNote, err := note.Open(cpBytes, verifiers)
	if err != nil {
		return fmt.Errorf("note.Open(checkpoint): %v", err)
	}
	cp, err := parseCheckpoint(cpNote.Text)
	if err != nil {
		return err
	}
	if err := sameAsGoSigned(cpNote.Text, string(cpBytes), signer); err != nil {
		return fmt.Errorf("checkpoint: %v", err)
	}
	if cp.Origin != verifier.Name() {
		return fmt.Errorf("checkpoint origin %q is not the key name %q", cp.Origin, verifier.Name())
	}
	if cp.Size != m.Size {
		return fmt.Errorf("checkpoint size %d, manifest size %d", cp.Size, m.Size)
	}
	tree := tlog.Tree{N: cp.Size, Hash: cp.Root}

	// 3. The tiles, authenticated against the checkpoint by Go's
	// TileHashReader (tile reads are checked against the tree hash).
	thr := tlog.TileHashReader(tree, &dirTileReader{dir: dir})
	if tree.N > 0 {
		th, err := tlog.TreeHash(tree.N, thr)
		if err != nil {
			return fmt.Errorf("TreeHash(%d) via TileHashReader: %v", tree.N, err)
		}
		if th != tree.Hash {
			return fmt.Errorf("TreeHash(%d) via TileHashReader = %s, checkpoint root %s", tree.N, th, tree.Hash)
		}
	} else if tree.Hash != emptyRoot() {
		return fmt.Errorf("checkpoint of size 0 has root %s, not the empty-tree hash", tree.Hash)
	}

	// 4. Rebuild the log from the entry bundles and compare every tile, byte
	// for byte, with what Go computes; the set of files must match exactly.
	log, err := rebuildFromBundles(dir, tree.N)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, t := range tilesForSize(tree.N) {
		path := c2spTilePath(t)
		want[path] = true
		if t.L == 0 {
			want[c2spTilePath(entryTile(t))] = true
		}
		expect, err := tlog.ReadTileData(t, log)
		if err != nil {
			return fmt.Errorf("ReadTileData(%s): %v", path, err)
		}
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path)))
		if err != nil {
			return fmt.Errorf("tile %s: %v", path, err)
		}
		if !bytes.Equal(got, expect) {
			return fmt.Errorf("tile %s differs from Go's (%d bytes, want %d)", path, len(got), len(expect))
		}
	}
	have, err := listTiles(dir)
	if err != nil {
		return err
	}
	for _, p := range have {
		if !want[p] {
			return fmt.Errorf("unexpected tile file %s for size %d", p, tree.N)
		}
		delete(want, p)
	}
	if len(want) > 0 {
		missing := make([]string, 0, len(want))
		for p := range want {
			missing = append(missing, p)
		}
		sort.Strings(missing)
		return fmt.Errorf("missing tile files %v", missing)
	}
	if got := sortedCopy(m.Tiles); !equalStrings(got, have) {
		return fmt.Errorf("manifest lists %d tiles, directory has %d", len(got), len(have))
	}

	// 5. Roots at every listed size.
	roots := map[int64]tlog.Hash{}
	for _, r := range m.Roots {
		h, err := parseHash(r.Root)
		if err != nil {
			return fmt.Errorf("root at %d: %v", r.Size, err)
		}
		if r.Size < 0 || r.Size > tree.N {
			return fmt.Errorf("root at size %d beyond the log size %d", r.Size, tree.N)
		}
		expect, err := tlog.TreeHash(r.Size, log)
		if err != nil {
			return fmt.Errorf("TreeHash(%d): %v", r.Size, err)
		}
		if h != expect {
			return fmt.Errorf("root at size %d is %s, Go computes %s", r.Size, h, expect)
		}
		roots[r.Size] = h
	}
	if r, ok := roots[tree.N]; !ok || r != tree.Hash {
		return fmt.Errorf("manifest root at size %d missing or not the checkpoint root", tree.N)
	}

	// 6. Inclusion proofs: CheckRecord, and equal to Go's ProveRecord from
	// both the rebuilt log and the authenticated tiles.
	for _, c := range m.Inclusion {
		if err := checkInclusion(c, roots, log, thr, tree.N); err != nil {
			return fmt.Errorf("inclusion proof index %d size %d: %v", c.Index, c.Size, err)
		}
	}

	// 7. Consistency proofs: CheckTree, and equal to Go's ProveTree.
	for _, c := range m.Consistency {
		if err := checkConsistency(c, roots, log); err != nil {
			return fmt.Errorf("consistency proof %d -> %d: %v", c.Old, c.New, err)
		}
	}

	fmt.Printf("ok: %s log of size %d: note, checkpoint, %d tiles, %d roots, %d inclusion and %d consistency proofs\n",
		m.Producer, tree.N, len(have), len(m.Roots), len(m.Inclusion), len(m.Consistency))
	return nil
}

// sameAsGoSigned checks that signed is exactly text signed by signer with
// Go's note.Sign.
func sameAsGoSigned(text, signed string, signer note.Signer) error {
	expect, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return fmt.Errorf("note.Sign: %v", err)
	}
	if string(expect) != signed {
		return fmt.Errorf("signed note differs from Go's note.Sign of the same text:\n%s\nwant:\n%s", signed, expect)
	}
	return nil
}

// checkInclusion checks one inclusion proof of the manifest with CheckRecord
// and against Go's own ProveRecord.
func checkInclusion(c InclusionCase, roots map[int64]tlog.Hash, log *memoryLog, thr tlog.HashReader, n int64) error {
	root, ok := roots[c.Size]
	if !ok {
		return fmt.Errorf("no root for size %d in the manifest", c.Size)
	}
	if c.Index < 0 || c.Index >= c.Size {
		return fmt.Errorf("index out of range")
	}
	leaf, err := parseHash(c.LeafHash)
	if err != nil {
		return fmt.Errorf("leaf hash: %v", err)
	}
	if leaf != tlog.RecordHash(entryData(c.Index)) {
		return fmt.Errorf("leaf hash is not RecordHash(%q)", entryData(c.Index))
	}
	proof, err := parseHashes(c.Proof)
	if err != nil {
		return err
	}
	if err := tlog.CheckRecord(proof, c.Size, root, c.Index, leaf); err != nil {
		return fmt.Errorf("CheckRecord: %v", err)
	}
	expect, err := tlog.ProveRecord(c.Size, c.Index, log)
	if err != nil {
		return fmt.Errorf("ProveRecord: %v", err)
	}
	if !equalHashes(proof, expect) {
		return fmt.Errorf("proof differs from Go's ProveRecord")
	}
	if c.Size == n {
		fromTiles, err := tlog.ProveRecord(c.Size, c.Index, thr)
		if err != nil {
			return fmt.Errorf("ProveRecord via TileHashReader: %v", err)
		}
		if !equalHashes(proof, fromTiles) {
			return fmt.Errorf("proof differs from Go's ProveRecord over the tiles")
		}
	}
	return nil
}

// checkConsistency checks one consistency proof of the manifest with
// CheckTree and against Go's own ProveTree.
func checkConsistency(c ConsistencyCase, roots map[int64]tlog.Hash, log *memoryLog) error {
	oldRoot, ok1 := roots[c.Old]
	newRoot, ok2 := roots[c.New]
	if !ok1 || !ok2 {
		return fmt.Errorf("manifest lacks the root for size %d or %d", c.Old, c.New)
	}
	if c.Old < 1 || c.Old > c.New {
		return fmt.Errorf("sizes out of range")
	}
	proof, err := parseHashes(c.Proof)
	if err != nil {
		return err
	}
	if err := tlog.CheckTree(proof, c.New, newRoot, c.Old, oldRoot); err != nil {
		return fmt.Errorf("CheckTree: %v", err)
	}
	expect, err := tlog.ProveTree(c.New, c.Old, log)
	if err != nil {
		return fmt.Errorf("ProveTree: %v", err)
	}
	if !equalHashes(proof, expect) {
		return fmt.Errorf("proof differs from Go's ProveTree")
	}
	return nil
}

// rebuildFromBundles reads every entry bundle of a log of size n, checks that
// entry i is "entry <i>", and appends the entries to a fresh in-memory log.
func rebuildFromBundles(dir string, n int64) (*memoryLog, error) {
	log := &memoryLog{}
	for _, t := range tilesForSize(n) {
		if t.L != 0 {
			continue
		}
		path := c2spTilePath(entryTile(t))
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path)))
		if err != nil {
			return nil, fmt.Errorf("entry bundle %s: %v", path, err)
		}
		entries, err := decodeBundle(data, t.W)
		if err != nil {
			return nil, fmt.Errorf("entry bundle %s: %v", path, err)
		}
		for i, e := range entries {
			index := t.N<<tileHeight + int64(i)
			if !bytes.Equal(e, entryData(index)) {
				return nil, fmt.Errorf("entry bundle %s: entry %d is %q, want %q", path, index, e, entryData(index))
			}
			if err := log.appendEntry(e); err != nil {
				return nil, err
			}
		}
	}
	if log.size != n {
		return nil, fmt.Errorf("bundles hold %d entries, want %d", log.size, n)
	}
	return log, nil
}

// dirTileReader is a tlog.TileReader over C2SP tile files in a directory.
type dirTileReader struct {
	dir string
}

// Height implements tlog.TileReader.
func (r *dirTileReader) Height() int { return tileHeight }

// ReadTiles implements tlog.TileReader.
func (r *dirTileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := c2spTilePath(t)
		data, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(path)))
		if err != nil {
			return nil, fmt.Errorf("tile %s: %v", path, err)
		}
		if len(data) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("tile %s has %d bytes, want %d", path, len(data), t.W*tlog.HashSize)
		}
		out[i] = data
	}
	return out, nil
}

// SaveTiles implements tlog.TileReader; nothing is cached.
func (r *dirTileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// listTiles lists every file under dir/tile as a sorted slash path.
func listTiles(dir string) ([]string, error) {
	var out []string
	root := filepath.Join(dir, "tile")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// sortedCopy returns a sorted copy of s.
func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// equalStrings reports whether a and b hold the same strings in order.
func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// equalHashes reports whether a and b hold the same hashes in order.
func equalHashes(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
