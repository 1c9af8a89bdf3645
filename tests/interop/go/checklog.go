package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// maxCheckpointBytes caps a fetched checkpoint (a note with up to 100
// signature lines fits easily).
const maxCheckpointBytes = 1 << 20

// maxBundleBytes caps a fetched entry bundle: 256 entries of at most 65,535
// bytes, each with a 2-byte length.
const maxBundleBytes = 256 * (2 + 0xffff)

// checkLog verifies a live tlog-tiles log at baseURL: its checkpoint under
// vkey, its tree hash from tiles (authenticated by Go's TileHashReader), and
// the inclusion of the first, middle and last entries, read from the entry
// bundles, in that tree.
func checkLog(baseURL, vkey string) error {
	baseURL = strings.TrimSuffix(baseURL, "/")
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("vkey %q: %v", vkey, err)
	}
	client := &httpFetcher{base: baseURL, client: &http.Client{Timeout: 30 * time.Second}}

	cpBytes, err := client.get("checkpoint", maxCheckpointBytes)
	if err != nil {
		return err
	}
	cpNote, err := note.Open(cpBytes, note.VerifierList(verifier))
	if err != nil {
		return fmt.Errorf("note.Open(checkpoint): %v", err)
	}
	cp, err := parseCheckpoint(cpNote.Text)
	if err != nil {
		return err
	}
	if cp.Size == 0 {
		if cp.Root != emptyRoot() {
			return fmt.Errorf("checkpoint of size 0 has root %s, not the empty-tree hash", cp.Root)
		}
		fmt.Printf("ok: %s: empty log, checkpoint verified\n", cp.Origin)
		return nil
	}

	tree := tlog.Tree{N: cp.Size, Hash: cp.Root}
	thr := tlog.TileHashReader(tree, &httpTileReader{f: client})
	th, err := tlog.TreeHash(tree.N, thr)
	if err != nil {
		return fmt.Errorf("TreeHash(%d) via TileHashReader: %v", tree.N, err)
	}
	if th != tree.Hash {
		return fmt.Errorf("TreeHash(%d) from tiles = %s, checkpoint root %s", tree.N, th, tree.Hash)
	}

	indexes := []int64{0, tree.N / 2, tree.N - 1}
	checked := map[int64]bool{}
	for _, index := range indexes {
		if checked[index] {
			continue
		}
		checked[index] = true
		if err := checkLogEntry(client, thr, tree, index); err != nil {
			return fmt.Errorf("entry %d: %v", index, err)
		}
	}
	fmt.Printf("ok: %s: checkpoint of size %d verified, tree hash from tiles matches, %d inclusion proofs verified\n",
		cp.Origin, tree.N, len(checked))
	return nil
}

// checkLogEntry fetches the entry bundle holding index, hashes the entry and
// checks its inclusion proof, computed from authenticated tiles, against the
// tree.
func checkLogEntry(f *httpFetcher, thr tlog.HashReader, tree tlog.Tree, index int64) error {
	n := index >> tileHeight
	width := int64(1 << tileHeight)
	if rest := tree.N - n<<tileHeight; rest < width {
		width = rest
	}
	bt := tlog.Tile{H: tileHeight, L: -1, N: n, W: int(width)}
	data, err := f.get(c2spTilePath(bt), maxBundleBytes)
	if err != nil {
		return err
	}
	entries, err := decodeBundle(data, bt.W)
	if err != nil {
		return fmt.Errorf("bundle %s: %v", c2spTilePath(bt), err)
	}
	leaf := tlog.RecordHash(entries[index-n<<tileHeight])
	proof, err := tlog.ProveRecord(tree.N, index, thr)
	if err != nil {
		return fmt.Errorf("ProveRecord via TileHashReader: %v", err)
	}
	if err := tlog.CheckRecord(proof, tree.N, tree.Hash, index, leaf); err != nil {
		return fmt.Errorf("CheckRecord of the bundled entry: %v", err)
	}
	return nil
}

// httpFetcher GETs paths under a log's URL prefix with a size cap.
type httpFetcher struct {
	base   string
	client *http.Client
}

// get fetches base/path, requiring status 200 and at most limit bytes.
func (f *httpFetcher) get(path string, limit int64) ([]byte, error) {
	url := f.base + "/" + path
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", url, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("GET %s: body exceeds %d bytes", url, limit)
	}
	return data, nil
}

// httpTileReader is a tlog.TileReader fetching C2SP tiles over HTTP.
type httpTileReader struct {
	f *httpFetcher
}

// Height implements tlog.TileReader.
func (r *httpTileReader) Height() int { return tileHeight }

// ReadTiles implements tlog.TileReader. TileHashReader authenticates the
// returned data against the tree before any hash from it is used.
func (r *httpTileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := r.f.get(c2spTilePath(t), int64(t.W*tlog.HashSize))
		if err != nil {
			return nil, err
		}
		if len(data) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("tile %s has %d bytes, want %d", c2spTilePath(t), len(data), t.W*tlog.HashSize)
		}
		out[i] = data
	}
	return out, nil
}

// SaveTiles implements tlog.TileReader; nothing is cached.
func (r *httpTileReader) SaveTiles([]tlog.Tile, [][]byte) {}
