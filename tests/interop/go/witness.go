package main

// witness: a tlog-witness server that is not claimlog's (specs.md §5.1-5.2),
// built on golang.org/x/mod/sumdb/note (log signatures) and sumdb/tlog
// (consistency proofs). claimlog's log talks to it in
// tests/tests/go_witness.rs.

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// witnessStateFile and witnessKeyFile are the files in the state directory.
const (
	witnessStateFile = "state.json"
	witnessKeyFile   = "cosigner.key"
)

// witnessState is the persisted state: per origin, the latest cosigned tree
// and the note the witness cosigned (log signatures included).
type witnessState struct {
	Logs map[string]cosignedTree `json:"logs"`
}

// cosignedTree is one origin's latest cosigned checkpoint.
type cosignedTree struct {
	Size int64  `json:"size"`
	Root string `json:"root"`
	Note string `json:"note"`
}

// goWitness is the server's state.
type goWitness struct {
	name      string
	priv      ed25519.PrivateKey
	verifiers map[string]note.Verifiers // by origin
	stateDir  string

	mu    sync.Mutex // serialises check-then-persist (the spec's compare-and-swap)
	state witnessState
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runWitness parses the flags of `witness` and serves until killed.
func runWitness(args []string) error {
	fs := flag.NewFlagSet("witness", flag.ContinueOnError)
	stateDir := fs.String("state", "", "state directory (created; holds the cosigner key and state.json)")
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	name := fs.String("name", "go.interop.claimlog.dev/witness", "cosigner name (for a new key)")
	var logs stringList
	fs.Var(&logs, "log", "trusted log vkey (Ed25519, type 0x01; its name is the origin); repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stateDir == "" || len(logs) == 0 || fs.NArg() != 0 {
		return errors.New("usage: witness -state DIR [-listen ADDR] [-name NAME] -log VKEY...")
	}
	w := &goWitness{verifiers: map[string]note.Verifiers{}, stateDir: *stateDir}
	byOrigin := map[string][]note.Verifier{}
	for _, vkey := range logs {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return fmt.Errorf("log vkey %q: %v", vkey, err)
		}
		byOrigin[v.Name()] = append(byOrigin[v.Name()], v)
	}
	for origin, vs := range byOrigin {
		w.verifiers[origin] = note.VerifierList(vs...)
	}
	if err := os.MkdirAll(*stateDir, 0o700); err != nil {
		return err
	}
	if err := w.loadKey(*name); err != nil {
		return err
	}
	if err := w.loadState(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	pub, _ := w.priv.Public().(ed25519.PublicKey)
	k := cosignerKey{Name: w.name, KeyID: cosignerKeyID(w.name, pub), Pub: pub}
	// The same start-up lines as claimlog-witness, so one test helper
	// starts either.
	fmt.Printf("witness vkey %s\nlistening on %s\n", k.vkey(), ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("/add-checkpoint", w.handleAdd)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// loadKey reads the cosigner key ("<name> <hex seed>") or creates it (0600).
func (w *goWitness) loadKey(name string) error {
	path := filepath.Join(w.stateDir, witnessKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if !validKeyName(name) {
			return fmt.Errorf("invalid cosigner name %q", name)
		}
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return err
		}
		data = []byte(name + " " + hex.EncodeToString(seed) + "\n")
		if err := writeFileAtomic(path, data, 0o600); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 || !validKeyName(fields[0]) {
		return fmt.Errorf("%s: want \"<name> <hex seed>\"", path)
	}
	seed, err := hex.DecodeString(fields[1])
	if err != nil || len(seed) != ed25519.SeedSize {
		return fmt.Errorf("%s: bad seed", path)
	}
	w.name = fields[0]
	w.priv = ed25519.NewKeyFromSeed(seed)
	return nil
}

// loadState reads state.json (absent: nothing cosigned yet).
func (w *goWitness) loadState() error {
	w.state = witnessState{Logs: map[string]cosignedTree{}}
	data, err := os.ReadFile(filepath.Join(w.stateDir, witnessStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &w.state); err != nil {
		return fmt.Errorf("%s: %v", witnessStateFile, err)
	}
	if w.state.Logs == nil {
		w.state.Logs = map[string]cosignedTree{}
	}
	return nil
}

// writeFileAtomic writes a sibling temp file, syncs it, renames it over path
// and syncs the directory, so a crash leaves the old or the new file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after a successful rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// httpError writes a plain-text error.
func httpError(rw http.ResponseWriter, status int, format string, args ...interface{}) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.WriteHeader(status)
	fmt.Fprintf(rw, format+"\n", args...)
}

// handleAdd is POST /add-checkpoint, checks in the order of specs.md §5.2.
func (w *goWitness) handleAdd(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		httpError(rw, http.StatusMethodNotAllowed, "POST only")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestSize+1))
	if err != nil {
		httpError(rw, http.StatusBadRequest, "reading body: %v", err)
		return
	}
	if len(body) > maxRequestSize {
		httpError(rw, http.StatusBadRequest, "body larger than %d bytes", maxRequestSize)
		return
	}
	// 0. Malformed: 400.
	req, err := parseAddCheckpoint(body)
	if err != nil {
		httpError(rw, http.StatusBadRequest, "malformed request: %v", err)
		return
	}
	// 1. Unknown origin: 404.
	verifiers, ok := w.verifiers[req.Cp.Origin]
	if !ok {
		httpError(rw, http.StatusNotFound, "unknown origin %q", req.Cp.Origin)
		return
	}
	// 2. The log's signature: 403 when no trusted key signed or a trusted
	// key's signature fails; a note Go cannot parse is 400.
	if _, err := note.Open(req.Note, verifiers); err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			httpError(rw, http.StatusForbidden, "log signature: %v", err)
		} else {
			httpError(rw, http.StatusBadRequest, "malformed note: %v", err)
		}
		return
	}
	size, root := req.Cp.Size, req.Cp.Root
	// 3. old > size: 400.
	if req.Old > size {
		httpError(rw, http.StatusBadRequest, "old %d is larger than the checkpoint size %d", req.Old, size)
		return
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	stored := w.state.Logs[req.Cp.Origin]
	// 4. old must be the stored size: 409 with the stored size.
	if req.Old != stored.Size {
		rw.Header().Set("Content-Type", sizeContentType)
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", stored.Size)
		return
	}
	// 5. A size-0 checkpoint must carry the empty-tree root: 422.
	if size == 0 && root != emptyRoot() {
		httpError(rw, http.StatusUnprocessableEntity, "size-0 checkpoint with a non-empty root")
		return
	}
	if req.Old == 0 {
		// 6. No consistency proof from the empty tree: 422.
		if len(req.Proof) != 0 {
			httpError(rw, http.StatusUnprocessableEntity, "non-empty proof with old 0")
			return
		}
	} else {
		storedRoot, err := parseHash(stored.Root)
		if err != nil {
			httpError(rw, http.StatusInternalServerError, "stored root: %v", err)
			return
		}
		// 8. Same size, different root: 422 (spec HEAD).
		if req.Old == size && root != storedRoot {
			httpError(rw, http.StatusUnprocessableEntity, "root differs from the cosigned root at size %d", size)
			return
		}
		// 7. The consistency proof old -> size: 422.
		if req.Old == size {
			if len(req.Proof) != 0 {
				httpError(rw, http.StatusUnprocessableEntity, "non-empty proof for old == size")
				return
			}
		} else if err := tlog.CheckTree(tlog.TreeProof(req.Proof), size, root, req.Old, storedRoot); err != nil {
			httpError(rw, http.StatusUnprocessableEntity, "consistency proof %d -> %d: %v", req.Old, size, err)
			return
		}
	}
	// 9. Persist, then cosign.
	next := witnessState{Logs: map[string]cosignedTree{}}
	for o, t := range w.state.Logs {
		next.Logs[o] = t
	}
	next.Logs[req.Cp.Origin] = cosignedTree{
		Size: size,
		Root: base64.StdEncoding.EncodeToString(root[:]),
		Note: string(req.Note),
	}
	data, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		httpError(rw, http.StatusInternalServerError, "encoding state: %v", err)
		return
	}
	if err := writeFileAtomic(filepath.Join(w.stateDir, witnessStateFile), data, 0o600); err != nil {
		log.Printf("persisting state: %v", err)
		httpError(rw, http.StatusInternalServerError, "persisting state failed")
		return
	}
	w.state = next
	line := cosign(w.name, w.priv, uint64(time.Now().Unix()), req.Text)
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.WriteHeader(http.StatusOK)
	io.WriteString(rw, line)
}
