package main

// foreign-log: a log that is not claimlog's. It builds its tree with
// golang.org/x/mod/sumdb/tlog (its own record hashes, stored hashes in
// memory), signs C2SP checkpoints with sumdb/note under its own key, and
// drives a witness through tlog-witness add-checkpoint (specs.md §5.2, §5.6),
// checking every status and verifying every cosignature itself.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The foreign log's identity: fixed test keys (public test material) derived
// as SHA-256 of a label, like gen's.
const (
	foreignOrigin      = "go.interop.claimlog.dev/foreign-log"
	foreignSeedLabel   = "claimlog interop test key: go foreign log"
	unknownOrigin      = "go.interop.claimlog.dev/unconfigured-log"
	unknownSeedLabel   = "claimlog interop test key: go unconfigured log"
	impostorSeedLabel  = "claimlog interop test key: go impostor"
	foreignLogSize     = 2000
	cosignatureMaxSkew = 10 * 60 // seconds a witness clock may run ahead
)

// foreignKey returns the signer and vkey of a fixed test key.
func foreignKey(label, name string) (note.Signer, string, error) {
	seed := sha256.Sum256([]byte(label))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(seed[:]), name)
	if err != nil {
		return nil, "", err
	}
	signer, err := note.NewSigner(skey)
	return signer, vkey, err
}

// foreignLogKey prints the foreign log's origin and vkey, for configuring a
// witness before `foreign-log run`.
func foreignLogKey() error {
	_, vkey, err := foreignKey(foreignSeedLabel, foreignOrigin)
	if err != nil {
		return err
	}
	fmt.Printf("origin %s\nvkey %s\n", foreignOrigin, vkey)
	return nil
}

// witnessClient posts add-checkpoint requests and counts them.
type witnessClient struct {
	url      string
	http     *http.Client
	requests int
}

// witnessReply is a witness's answer.
type witnessReply struct {
	status int
	ctype  string
	body   []byte
}

func (c *witnessClient) post(body []byte) (witnessReply, error) {
	c.requests++
	resp, err := c.http.Post(c.url+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		return witnessReply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return witnessReply{}, err
	}
	if len(data) > maxResponseSize {
		return witnessReply{}, errors.New("response body too large")
	}
	return witnessReply{resp.StatusCode, resp.Header.Get("Content-Type"), data}, nil
}

// foreignRun holds the state of one run against a witness.
type foreignRun struct {
	client   *witnessClient
	witness  cosignerKey
	signer   note.Signer
	verifier note.Verifier
	log      *memoryLog
	cosigned int
}

// checkpoint signs the log's checkpoint at size n.
func (f *foreignRun) checkpoint(n int64) ([]byte, string, error) {
	root, err := tlog.TreeHash(n, f.log)
	if err != nil {
		return nil, "", err
	}
	text := formatCheckpoint(foreignOrigin, n, root)
	signed, err := note.Sign(&note.Note{Text: text}, f.signer)
	return signed, text, err
}

// expect posts body and requires one of the statuses in want.
func (f *foreignRun) expect(what string, body []byte, want ...int) (witnessReply, error) {
	r, err := f.client.post(body)
	if err != nil {
		return r, fmt.Errorf("%s: %v", what, err)
	}
	for _, s := range want {
		if r.status == s {
			fmt.Printf("ok: %s: %d\n", what, r.status)
			return r, nil
		}
	}
	return r, fmt.Errorf("%s: status %d, want %v; body %q", what, r.status, want, r.body)
}

// cosign adds the checkpoint at size n with the given old size and proof,
// expects 200, and verifies the cosignature.
func (f *foreignRun) cosign(what string, old int64, proof []tlog.Hash, n int64) error {
	signed, text, err := f.checkpoint(n)
	if err != nil {
		return err
	}
	before := uint64(time.Now().Unix())
	r, err := f.expect(what, formatAddCheckpoint(old, proof, signed), http.StatusOK)
	if err != nil {
		return err
	}
	after := uint64(time.Now().Unix()) + cosignatureMaxSkew
	// A witness clock may lag a little too; a timestamp an hour behind is
	// still "now" for this protocol's purposes.
	times, err := verifyCosignatures(f.witness, r.body, text, before-3600, after)
	if err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	// The cosigned note (checkpoint plus the witness's lines) still opens
	// with Go's note package under the log key; the 0x04 lines are unknown
	// signatures to it, kept aside.
	cosigned := append(append([]byte{}, signed...), r.body...)
	opened, err := note.Open(cosigned, note.VerifierList(f.verifier))
	if err != nil {
		return fmt.Errorf("%s: the cosigned note does not open: %v", what, err)
	}
	if len(opened.UnverifiedSigs) == 0 {
		return fmt.Errorf("%s: the cosigned note lost the witness's lines", what)
	}
	f.cosigned += len(times)
	return nil
}

// proof is ProveTree(n, old), or nil for old 0.
func (f *foreignRun) proof(n, old int64) ([]tlog.Hash, error) {
	if old == 0 || old == n {
		return nil, nil
	}
	p, err := tlog.ProveTree(n, old, f.log)
	return []tlog.Hash(p), err
}

// runForeignLog drives the witness at url, whose cosigner vkey is
// witnessVkey, through the protocol.
func runForeignLog(url, witnessVkey string) error {
	wk, err := parseCosignerVkey(witnessVkey)
	if err != nil {
		return err
	}
	signer, vkey, err := foreignKey(foreignSeedLabel, foreignOrigin)
	if err != nil {
		return err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return err
	}
	f := &foreignRun{
		verifier: verifier,
		client:   &witnessClient{url: strings.TrimSuffix(url, "/"), http: &http.Client{Timeout: 60 * time.Second}},
		witness:  wk,
		signer:   signer,
		log:      &memoryLog{},
	}
	for i := int64(0); i < foreignLogSize; i++ {
		if err := f.log.appendEntry([]byte(fmt.Sprintf("foreign entry %d", i))); err != nil {
			return err
		}
	}
	cp5, text5, err := f.checkpoint(5)
	if err != nil {
		return err
	}

	// 400: malformed bodies, in every part of the request.
	tooMany := make([]tlog.Hash, maxProofLines+1)
	nonCheckpoint, err := note.Sign(&note.Note{Text: "not a checkpoint\n"}, signer)
	if err != nil {
		return err
	}
	malformed := []struct {
		what string
		body []byte
	}{
		{"empty body", nil},
		{"old with a leading zero", append([]byte("old 00\n\n"), cp5...)},
		{"negative old", append([]byte("old -1\n\n"), cp5...)},
		{"no old line", append([]byte("\n"), cp5...)},
		{"proof line not base64", append([]byte("old 0\n!!!!\n\n"), cp5...)},
		{"proof line of 31 bytes", append([]byte("old 0\n"+base64.StdEncoding.EncodeToString(make([]byte, 31))+"\n\n"), cp5...)},
		{"64 proof lines", formatAddCheckpoint(0, tooMany, cp5)},
		{"no blank line before the note", append([]byte("old 0\n"), cp5...)},
		{"note without signatures", []byte("old 0\n\n" + text5)},
		{"note text not a checkpoint", formatAddCheckpoint(0, nil, nonCheckpoint)},
		{"checkpoint size not canonical", formatAddCheckpoint(0, nil, bytes.Replace(cp5, []byte("\n5\n"), []byte("\n05\n"), 1))},
	}
	for _, m := range malformed {
		if _, err := f.expect("malformed: "+m.what, m.body, http.StatusBadRequest); err != nil {
			return err
		}
	}

	// 404 (403 from deployed witnesses that predate the spec change,
	// specs.md §5.5): an origin the witness does not know.
	unknownSigner, _, err := foreignKey(unknownSeedLabel, unknownOrigin)
	if err != nil {
		return err
	}
	root5, err := tlog.TreeHash(5, f.log)
	if err != nil {
		return err
	}
	unknownCp, err := note.Sign(&note.Note{Text: formatCheckpoint(unknownOrigin, 5, root5)}, unknownSigner)
	if err != nil {
		return err
	}
	if _, err := f.expect("unknown origin", formatAddCheckpoint(0, nil, unknownCp), http.StatusNotFound, http.StatusForbidden); err != nil {
		return err
	}

	// 403: the log's own key with a signature that fails, and a key that
	// has the log's name but not its key ID (no trusted signature at all).
	flipped, err := flipSignatureByte(cp5)
	if err != nil {
		return err
	}
	if _, err := f.expect("log signature that fails", formatAddCheckpoint(0, nil, flipped), http.StatusForbidden); err != nil {
		return err
	}
	impostor, _, err := foreignKey(impostorSeedLabel, foreignOrigin)
	if err != nil {
		return err
	}
	impostorCp, err := note.Sign(&note.Note{Text: text5}, impostor)
	if err != nil {
		return err
	}
	if _, err := f.expect("signed by another key of the same name", formatAddCheckpoint(0, nil, impostorCp), http.StatusForbidden); err != nil {
		return err
	}
	// 400: old larger than the checkpoint (checked after the signature).
	if _, err := f.expect("old larger than the size", formatAddCheckpoint(6, nil, cp5), http.StatusBadRequest); err != nil {
		return err
	}

	// 422 before anything is stored: a proof with old 0, and a size-0
	// checkpoint that does not carry the empty-tree root.
	if _, err := f.expect("proof with old 0", formatAddCheckpoint(0, []tlog.Hash{root5}, cp5), http.StatusUnprocessableEntity); err != nil {
		return err
	}
	badEmpty, err := note.Sign(&note.Note{Text: formatCheckpoint(foreignOrigin, 0, root5)}, signer)
	if err != nil {
		return err
	}
	if _, err := f.expect("size 0 with a non-empty root", formatAddCheckpoint(0, nil, badEmpty), http.StatusUnprocessableEntity); err != nil {
		return err
	}

	// 200: the first checkpoint from 0, then growth with proofs.
	if err := f.cosign("first checkpoint, old 0 -> 5", 0, nil, 5); err != nil {
		return err
	}
	for _, step := range [][2]int64{{5, 17}, {17, 300}} {
		p, err := f.proof(step[1], step[0])
		if err != nil {
			return err
		}
		if err := f.cosign(fmt.Sprintf("growth %d -> %d", step[0], step[1]), step[0], p, step[1]); err != nil {
			return err
		}
	}

	// 409: a stale old size; the body names the stored size, the client
	// retries from it (specs.md §5.6 step 3).
	cp1000, _, err := f.checkpoint(1000)
	if err != nil {
		return err
	}
	var conflict witnessReply
	for _, old := range []int64{0, 17} {
		p, err := f.proof(1000, old)
		if err != nil {
			return err
		}
		r, err := f.expect(fmt.Sprintf("stale old %d", old), formatAddCheckpoint(old, p, cp1000), http.StatusConflict)
		if err != nil {
			return err
		}
		if r.ctype != sizeContentType {
			return fmt.Errorf("stale old %d: Content-Type %q, want %q", old, r.ctype, sizeContentType)
		}
		if string(r.body) != "300\n" {
			return fmt.Errorf("stale old %d: body %q, want \"300\\n\"", old, r.body)
		}
		conflict = r
	}
	sizeLine, ok := cutSuffix(string(conflict.body), "\n")
	if !ok {
		return fmt.Errorf("409 body %q does not end in a newline", conflict.body)
	}
	retryFrom, err := parseDecimal(sizeLine)
	if err != nil {
		return fmt.Errorf("409 body: %v", err)
	}
	p, err := f.proof(1000, retryFrom)
	if err != nil {
		return err
	}
	if err := f.cosign(fmt.Sprintf("retry from the witness's size %d -> 1000", retryFrom), retryFrom, p, 1000); err != nil {
		return err
	}

	// 422: bad consistency proofs 1000 -> 1500.
	cp1500, _, err := f.checkpoint(1500)
	if err != nil {
		return err
	}
	good, err := f.proof(1500, 1000)
	if err != nil {
		return err
	}
	flippedProof := append([]tlog.Hash{}, good...)
	flippedProof[0][0] ^= 1
	wrongOld, err := f.proof(1500, 999)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		what  string
		proof []tlog.Hash
	}{
		{"proof with a flipped byte", flippedProof},
		{"truncated proof", good[:len(good)-1]},
		{"proof with an extra hash", append(append([]tlog.Hash{}, good...), good[0])},
		{"proof from another size", wrongOld},
		{"empty proof", nil},
	} {
		if _, err := f.expect("bad proof: "+c.what, formatAddCheckpoint(1000, c.proof, cp1500), http.StatusUnprocessableEntity); err != nil {
			return err
		}
	}

	// 422 (spec HEAD; 409 in v1.0.0): the same size with another root, a
	// validly signed fork.
	var forkRoot tlog.Hash
	copy(forkRoot[:], good[0][:])
	fork, err := note.Sign(&note.Note{Text: formatCheckpoint(foreignOrigin, 1000, forkRoot)}, signer)
	if err != nil {
		return err
	}
	if _, err := f.expect("same size, different root", formatAddCheckpoint(1000, nil, fork), http.StatusUnprocessableEntity); err != nil {
		return err
	}

	// 200: the same checkpoint again gets a fresh cosignature; the failures
	// above left the stored size at 1000, so growth from it succeeds.
	if err := f.cosign("re-cosign at 1000", 1000, nil, 1000); err != nil {
		return err
	}
	p, err = f.proof(foreignLogSize, 1000)
	if err != nil {
		return err
	}
	if err := f.cosign(fmt.Sprintf("growth 1000 -> %d", foreignLogSize), 1000, p, foreignLogSize); err != nil {
		return err
	}

	root, err := tlog.TreeHash(foreignLogSize, f.log)
	if err != nil {
		return err
	}
	fmt.Printf("final %d %s\n", foreignLogSize, base64.StdEncoding.EncodeToString(root[:]))
	fmt.Printf("ok: foreign log %s: %d requests, %d cosignatures verified\n", foreignOrigin, f.client.requests, f.cosigned)
	return nil
}

// cutSuffix is strings.CutSuffix (Go 1.20).
func cutSuffix(s, suffix string) (string, bool) {
	if !strings.HasSuffix(s, suffix) {
		return s, false
	}
	return strings.TrimSuffix(s, suffix), true
}

// flipSignatureByte flips one bit of the signature (not the key ID) in the
// first signature line of a signed note.
func flipSignatureByte(signed []byte) ([]byte, error) {
	text := string(signed)
	i := strings.LastIndex(text, "\n\n")
	if i < 0 {
		return nil, errors.New("note has no signature block")
	}
	lines := strings.Split(strings.TrimSuffix(text[i+2:], "\n"), "\n")
	s, err := parseSigLine(lines[0])
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 4, 4+len(s.Payload))
	raw[0], raw[1], raw[2], raw[3] = byte(s.KeyID>>24), byte(s.KeyID>>16), byte(s.KeyID>>8), byte(s.KeyID)
	raw = append(raw, s.Payload...)
	raw[10] ^= 0x40
	lines[0] = sigPrefix + s.Name + " " + base64.StdEncoding.EncodeToString(raw)
	return []byte(text[:i+2] + strings.Join(lines, "\n") + "\n"), nil
}
