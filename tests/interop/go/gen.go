package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// genKeyName is the name of Go's test key, also the checkpoint origin.
const genKeyName = "go.interop.claimlog.dev/log"

// genSeedLabel derives Go's fixed test seed: SHA-256 of this label. The key is
// public test material; never use it elsewhere.
const genSeedLabel = "claimlog interop test key: go"

// genSize is the size of the generated log: 70000 is the worked example of
// specs.md §7.2, with partial tiles at levels 0 (width 112), 1 (17) and 2 (1).
const genSize = 70000

// genNoteText is the text of the plain signed note.
const genNoteText = "claimlog interop: a note signed by Go's sumdb/note\nsecond line\n"

// genInclusion lists the (index, size) pairs of the inclusion proofs written.
var genInclusion = [][2]int64{
	{0, 1}, {0, 2}, {1, 2}, {5, 8}, {255, 256}, {256, 257}, {300, 1000},
	{999, 1000}, {12345, genSize}, {65535, 65536}, {65536, 65537},
	{0, genSize}, {genSize - 1, genSize},
}

// genConsistency lists the (old, new) pairs of the consistency proofs written.
var genConsistency = [][2]int64{
	{1, 2}, {1, genSize}, {3, 8}, {255, 256}, {256, 257}, {1000, genSize},
	{12345, 65537}, {65536, genSize}, {genSize - 1, genSize}, {genSize, genSize},
}

// gen writes Go's side of the exchange into dir.
func gen(dir string) error {
	seed := sha256.Sum256([]byte(genSeedLabel))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(seed[:]), genKeyName)
	if err != nil {
		return err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}

	log := &memoryLog{}
	for i := int64(0); i < genSize; i++ {
		if err := log.appendEntry(entryData(i)); err != nil {
			return fmt.Errorf("append entry %d: %v", i, err)
		}
	}
	root, err := tlog.TreeHash(genSize, log)
	if err != nil {
		return err
	}

	signedNote, err := note.Sign(&note.Note{Text: genNoteText}, signer)
	if err != nil {
		return err
	}
	checkpoint, err := note.Sign(&note.Note{Text: formatCheckpoint(genKeyName, genSize, root)}, signer)
	if err != nil {
		return err
	}
	if err := writeFile(dir, "checkpoint", checkpoint); err != nil {
		return err
	}

	m := Manifest{Format: manifestFormat, Producer: "go", Vkey: vkey, Skey: skey, Note: string(signedNote), Size: genSize}

	// Tiles and their entry bundles, under C2SP paths.
	for _, t := range tilesForSize(genSize) {
		data, err := tlog.ReadTileData(t, log)
		if err != nil {
			return fmt.Errorf("tile %s: %v", c2spTilePath(t), err)
		}
		if err := writeFile(dir, c2spTilePath(t), data); err != nil {
			return err
		}
		m.Tiles = append(m.Tiles, c2spTilePath(t))
		if t.L != 0 {
			continue
		}
		var entries [][]byte
		for i := int64(0); i < int64(t.W); i++ {
			entries = append(entries, entryData(t.N<<tileHeight+i))
		}
		bundle, err := encodeBundle(entries)
		if err != nil {
			return err
		}
		et := entryTile(t)
		if err := writeFile(dir, c2spTilePath(et), bundle); err != nil {
			return err
		}
		m.Tiles = append(m.Tiles, c2spTilePath(et))
	}

	// Roots for every size a proof mentions.
	sizes := map[int64]bool{genSize: true}
	for _, p := range genInclusion {
		sizes[p[1]] = true
	}
	for _, p := range genConsistency {
		sizes[p[0]] = true
		sizes[p[1]] = true
	}
	for n := int64(0); n <= genSize; n++ {
		if !sizes[n] {
			continue
		}
		h, err := tlog.TreeHash(n, log)
		if err != nil {
			return fmt.Errorf("tree hash %d: %v", n, err)
		}
		m.Roots = append(m.Roots, RootAt{Size: n, Root: base64.StdEncoding.EncodeToString(h[:])})
	}

	for _, p := range genInclusion {
		proof, err := tlog.ProveRecord(p[1], p[0], log)
		if err != nil {
			return fmt.Errorf("ProveRecord(%d, %d): %v", p[1], p[0], err)
		}
		leaf := tlog.RecordHash(entryData(p[0]))
		m.Inclusion = append(m.Inclusion, InclusionCase{
			Index: p[0], Size: p[1], LeafHash: base64.StdEncoding.EncodeToString(leaf[:]), Proof: formatHashes(proof),
		})
	}
	for _, p := range genConsistency {
		proof, err := tlog.ProveTree(p[1], p[0], log)
		if err != nil {
			return fmt.Errorf("ProveTree(%d, %d): %v", p[1], p[0], err)
		}
		m.Consistency = append(m.Consistency, ConsistencyCase{Old: p[0], New: p[1], Proof: formatHashes(proof)})
	}

	js, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(dir, manifestName, append(js, '\n')); err != nil {
		return err
	}
	fmt.Println(vkey)
	return nil
}

// writeFile writes data to dir/rel, creating parent directories.
func writeFile(dir, rel string, data []byte) error {
	path := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
