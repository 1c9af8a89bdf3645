package main

// The tlog-witness wire format (c2sp.org/tlog-witness, specs.md §5.2) and
// Ed25519 cosignature/v1 (c2sp.org/tlog-cosignature, specs.md §4.1), written
// here from the specs: golang.org/x/mod/sumdb/note only knows type-0x01
// Ed25519 note signatures, so it can neither verify nor produce the
// timestamped type-0x04 cosignatures a witness returns.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"
)

// algCosignatureV1 is the signature type byte of Ed25519 cosignature/v1.
const algCosignatureV1 = 0x04

// maxProofLines is the most consistency-proof lines a request may carry.
const maxProofLines = 63

// maxRequestSize caps an add-checkpoint body (1 MiB + 64 KiB, azul's figure,
// specs.md §5.5).
const maxRequestSize = 1<<20 + 64<<10

// maxResponseSize caps a witness response body read by the client.
const maxResponseSize = 512 << 10

// sizeContentType is the media type of a 409 body.
const sizeContentType = "text/x.tlog.size"

// sigPrefix starts every signature line: U+2014 EM DASH and a space.
const sigPrefix = "\u2014 "

// cosignerKey is a witness's public cosigning key (a type-0x04 vkey).
type cosignerKey struct {
	Name  string
	KeyID uint32
	Pub   ed25519.PublicKey
}

// cosignerKeyID derives the key ID: SHA-256(name || LF || 0x04 || pk)[:4],
// big-endian (specs.md §2.3; a MUST for type 0x04).
func cosignerKeyID(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil)[:4])
}

// validKeyName reports whether name is a valid note key name: non-empty,
// no Unicode space, no '+' (specs.md §2.2).
func validKeyName(name string) bool {
	if name == "" || !utf8.ValidString(name) || len(name) > 255 {
		return false
	}
	for _, r := range name {
		if unicode.IsSpace(r) || r == '+' {
			return false
		}
	}
	return true
}

// vkey formats the key as <name>+<hex8>+<base64(0x04 || pk)>.
func (k cosignerKey) vkey() string {
	return fmt.Sprintf("%s+%08x+%s", k.Name, k.KeyID,
		base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, k.Pub...)))
}

// parseCosignerVkey parses a type-0x04 vkey strictly: split on the first two
// '+', a valid name, 8 lowercase hex digits, canonical base64 of 33 bytes
// starting with 0x04, and a key ID that matches the derivation.
func parseCosignerVkey(vkey string) (cosignerKey, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return cosignerKey{}, fmt.Errorf("vkey %q: want <name>+<id>+<key>", vkey)
	}
	name, idHex, keyB64 := parts[0], parts[1], parts[2]
	if !validKeyName(name) {
		return cosignerKey{}, fmt.Errorf("vkey %q: invalid name", vkey)
	}
	if len(idHex) != 8 || strings.ToLower(idHex) != idHex {
		return cosignerKey{}, fmt.Errorf("vkey %q: key ID is not 8 lowercase hex digits", vkey)
	}
	id, err := strconv.ParseUint(idHex, 16, 32)
	if err != nil {
		return cosignerKey{}, fmt.Errorf("vkey %q: key ID: %v", vkey, err)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(keyB64)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != keyB64 {
		return cosignerKey{}, fmt.Errorf("vkey %q: key is not canonical base64", vkey)
	}
	if len(raw) != 1+ed25519.PublicKeySize || raw[0] != algCosignatureV1 {
		return cosignerKey{}, fmt.Errorf("vkey %q: not an Ed25519 cosignature/v1 (0x04) key", vkey)
	}
	k := cosignerKey{Name: name, KeyID: uint32(id), Pub: ed25519.PublicKey(raw[1:])}
	if want := cosignerKeyID(name, k.Pub); want != k.KeyID {
		return cosignerKey{}, fmt.Errorf("vkey %q: key ID %08x, derivation gives %08x", vkey, k.KeyID, want)
	}
	return k, nil
}

// cosignedMessage is the message a cosignature/v1 signs (specs.md §4.1):
// "cosignature/v1\ntime <T>\n" followed by the whole checkpoint text.
func cosignedMessage(timestamp uint64, checkpointText string) []byte {
	return []byte(fmt.Sprintf("cosignature/v1\ntime %d\n%s", timestamp, checkpointText))
}

// cosign returns the signature line (with its LF) of key over checkpointText
// at timestamp: "— <name> base64(keyID || be64(T) || sig)".
func cosign(name string, priv ed25519.PrivateKey, timestamp uint64, checkpointText string) string {
	pub, _ := priv.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(priv, cosignedMessage(timestamp, checkpointText))
	payload := make([]byte, 0, 4+8+ed25519.SignatureSize)
	payload = binary.BigEndian.AppendUint32(payload, cosignerKeyID(name, pub))
	payload = binary.BigEndian.AppendUint64(payload, timestamp)
	payload = append(payload, sig...)
	return sigPrefix + name + " " + base64.StdEncoding.EncodeToString(payload) + "\n"
}

// sigLine is one parsed signature line.
type sigLine struct {
	Name    string
	KeyID   uint32
	Payload []byte // the signature bytes after the key ID
}

// parseSigLine parses "— <name> <base64>" (no LF) strictly.
func parseSigLine(line string) (sigLine, error) {
	rest := strings.TrimPrefix(line, sigPrefix)
	if rest == line {
		return sigLine{}, fmt.Errorf("line %q does not start with an em dash and a space", line)
	}
	fields := strings.Split(rest, " ")
	if len(fields) != 2 || !validKeyName(fields[0]) {
		return sigLine{}, fmt.Errorf("line %q is not <name> <signature>", line)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(fields[1])
	if err != nil || base64.StdEncoding.EncodeToString(raw) != fields[1] || len(raw) < 5 {
		return sigLine{}, fmt.Errorf("line %q: signature is not canonical base64 of at least 5 bytes", line)
	}
	return sigLine{Name: fields[0], KeyID: binary.BigEndian.Uint32(raw[:4]), Payload: raw[4:]}, nil
}

// verifyCosignatures checks a 200 add-checkpoint body: one or more
// LF-terminated signature lines. Lines of other keys are ignored (specs.md
// §5.2, client side); every line carrying the witness's name and key ID must
// be a valid cosignature/v1 over checkpointText with a timestamp in
// [notBefore, notAfter]. It returns the timestamps of the witness's lines
// (at least one).
func verifyCosignatures(k cosignerKey, body []byte, checkpointText string, notBefore, notAfter uint64) ([]uint64, error) {
	text := string(body)
	if !utf8.ValidString(text) || !strings.HasSuffix(text, "\n") {
		return nil, errors.New("response body is not UTF-8 text ending in a newline")
	}
	var times []uint64
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		s, err := parseSigLine(line)
		if err != nil {
			return nil, err
		}
		if s.Name != k.Name || s.KeyID != k.KeyID {
			continue
		}
		if len(s.Payload) != 8+ed25519.SignatureSize {
			return nil, fmt.Errorf("cosignature has %d bytes after the key ID, want 72", len(s.Payload))
		}
		ts := binary.BigEndian.Uint64(s.Payload[:8])
		if ts == 0 || ts < notBefore || ts > notAfter {
			return nil, fmt.Errorf("cosignature timestamp %d outside [%d, %d]", ts, notBefore, notAfter)
		}
		if !ed25519.Verify(k.Pub, cosignedMessage(ts, checkpointText), s.Payload[8:]) {
			return nil, fmt.Errorf("cosignature at time %d does not verify", ts)
		}
		times = append(times, ts)
	}
	if len(times) == 0 {
		return nil, fmt.Errorf("no cosignature by %s+%08x in %q", k.Name, k.KeyID, text)
	}
	return times, nil
}

// formatAddCheckpoint formats an add-checkpoint request body: "old <n>",
// the proof lines, a blank line, the signed checkpoint note.
func formatAddCheckpoint(old int64, proof []tlog.Hash, signedNote []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(signedNote)
	return b.Bytes()
}

// addCheckpointRequest is a parsed add-checkpoint body. The note is not yet
// verified.
type addCheckpointRequest struct {
	Old   int64
	Proof []tlog.Hash
	Note  []byte
	Text  string // the note's text: everything up to the last blank line
	Cp    Checkpoint
}

// parseAddCheckpoint parses a body strictly: a canonical "old" line, at most
// 63 canonical base64 proof lines, a blank line, then a note whose text (up
// to its last blank line) is a checkpoint. The note's signatures are checked
// later, with the origin's keys.
func parseAddCheckpoint(body []byte) (*addCheckpointRequest, error) {
	rest := string(body)
	line, rest, ok := strings.Cut(rest, "\n")
	if !ok || !strings.HasPrefix(line, "old ") {
		return nil, errors.New("first line is not \"old <size>\"")
	}
	old, err := parseDecimal(strings.TrimPrefix(line, "old "))
	if err != nil {
		return nil, fmt.Errorf("old line: %v", err)
	}
	var proof []tlog.Hash
	for {
		line, rest, ok = strings.Cut(rest, "\n")
		if !ok {
			return nil, errors.New("no blank line before the checkpoint")
		}
		if line == "" {
			break
		}
		if len(proof) == maxProofLines {
			return nil, fmt.Errorf("more than %d proof lines", maxProofLines)
		}
		h, err := parseHash(line)
		if err != nil {
			return nil, fmt.Errorf("proof line %d: %v", len(proof)+1, err)
		}
		proof = append(proof, h)
	}
	i := strings.LastIndex(rest, "\n\n")
	if i < 0 {
		return nil, errors.New("checkpoint note has no signature block")
	}
	text := rest[:i+1]
	cp, err := parseCheckpoint(text)
	if err != nil {
		return nil, err
	}
	return &addCheckpointRequest{Old: old, Proof: proof, Note: []byte(rest), Text: text, Cp: cp}, nil
}
