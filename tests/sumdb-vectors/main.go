// Command sumdb-vectors writes the test vectors of Piraeus's checksum-database verifier
// (crates/piraeus-core/src/golang/{note,tlog,checksumdb}.rs): signed notes, verifier keys, tree
// heads, tiles, lookups, record proofs and tree proofs of a small log, all made by Go's own
// golang.org/x/mod, so the Rust code is checked against the implementation the go command uses.
//
// The log has 300 records, so tiles of height 8 are full (256 hashes) and partial (.p/W) at
// both levels. A second log that agrees for 100 records and then differs is the fork.
//
// Regenerate (in GOPATH mode against Debian's golang-golang-x-mod-dev; keys are random, so the
// file changes completely each time):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run ./tests/sumdb-vectors \
//	    > crates/piraeus-core/testdata/sumdb-vectors.json
package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	name    = "vectors.test"
	records = 300
	height  = 8
)

// The sizes heads are signed at: one record, inside the first tile, the first tile exactly full,
// one past it, the fork's last shared size, and the whole log.
var sizes = []int64{1, 5, 100, 200, 256, 257, 300}

type head struct {
	N    int64  `json:"n"`
	Hash string `json:"hash"`
	Note string `json:"note"`
}

type proof struct {
	Tree  int64    `json:"tree"`
	Index int64    `json:"index"`
	Proof []string `json:"proof"`
}

type tilePath struct {
	L    int    `json:"l"`
	N    int64  `json:"n"`
	W    int    `json:"w"`
	Path string `json:"path"`
}

type lookup struct {
	Module  string `json:"module"`
	Version string `json:"version"`
	Body    string `json:"body"`
}

type logVectors struct {
	Records []string          `json:"records"`
	Heads   []head            `json:"heads"`
	Tiles   map[string][]byte `json:"tiles"`
}

type vectors struct {
	Name         string     `json:"name"`
	VerifierKey  string     `json:"verifier_key"`
	OtherKey     string     `json:"other_key"`
	Log          logVectors `json:"log"`
	Fork         logVectors `json:"fork"`
	Lookups      []lookup   `json:"lookups"`
	RecordProofs []proof    `json:"record_proofs"`
	TreeProofs   []proof    `json:"tree_proofs"`
	TilePaths    []tilePath `json:"tile_paths"`
	// A note signed by the other key only, and one signed by both keys.
	OtherSigned string `json:"other_signed"`
	BothSigned  string `json:"both_signed"`
	// RecordHash("hello\n") and NodeHash of it with itself.
	LeafHash string `json:"leaf_hash"`
	NodeHash string `json:"node_hash"`
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// memLog is a log held in memory the way x/mod's servers hold one: its stored hashes.
type memLog struct {
	texts  [][]byte
	hashes []tlog.Hash
}

func (l *memLog) add(text []byte) {
	stored, err := tlog.StoredHashes(int64(len(l.texts)), text, l)
	check(err)
	l.texts = append(l.texts, text)
	l.hashes = append(l.hashes, stored...)
}

func (l *memLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, index := range indexes {
		if index >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("no hash %d", index)
		}
		out[i] = l.hashes[index]
	}
	return out, nil
}

func recordText(fork bool, i int) []byte {
	sum := "h1:" + fmt.Sprintf("%043d", i) + "="
	if fork && i >= 100 {
		sum = "h1:" + fmt.Sprintf("F%042d", i) + "="
	}
	m := fmt.Sprintf("example.com/m%03d", i)
	return []byte(fmt.Sprintf("%s v1.0.0 %s\n%s v1.0.0/go.mod %s\n", m, sum, m, sum))
}

func build(fork bool, signer note.Signer) (*memLog, logVectors) {
	l := &memLog{}
	out := logVectors{Tiles: map[string][]byte{}}
	for i := 0; i < records; i++ {
		text := recordText(fork, i)
		l.add(text)
		out.Records = append(out.Records, string(text))
	}
	for _, n := range sizes {
		hash, err := tlog.TreeHash(n, l)
		check(err)
		signed, err := note.Sign(&note.Note{Text: string(tlog.FormatTree(tlog.Tree{N: n, Hash: hash}))}, signer)
		check(err)
		out.Heads = append(out.Heads, head{N: n, Hash: hash.String(), Note: string(signed)})
		for _, tile := range tilesOf(n) {
			data, err := tlog.ReadTileData(tile, l)
			check(err)
			out.Tiles[tile.Path()] = data
		}
	}
	return l, out
}

// tilesOf lists the tiles a client reads for a tree of n records: at each level, the full
// tiles and the one partial tile as of n.
func tilesOf(n int64) []tlog.Tile {
	var tiles []tlog.Tile
	for level := 0; n>>uint(level*height) > 0; level++ {
		count := n >> uint(level*height)
		for i := int64(0); i*(1<<height) < count; i++ {
			w := count - i*(1<<height)
			if w > 1<<height {
				w = 1 << height
			}
			tiles = append(tiles, tlog.Tile{H: height, L: level, N: i, W: int(w)})
		}
	}
	return tiles
}

func hashes(list []tlog.Hash) []string {
	out := []string{}
	for _, h := range list {
		out = append(out, h.String())
	}
	return out
}

func main() {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	check(err)
	signer, err := note.NewSigner(skey)
	check(err)
	otherSkey, otherVkey, err := note.GenerateKey(rand.Reader, "other.test")
	check(err)
	otherSigner, err := note.NewSigner(otherSkey)
	check(err)

	v := vectors{Name: name, VerifierKey: vkey, OtherKey: otherVkey}
	var l *memLog
	l, v.Log = build(false, signer)
	_, v.Fork = build(true, signer)

	last := v.Log.Heads[len(v.Log.Heads)-1]
	for _, i := range []int{0, 1, 99, 255, 256, 299} {
		body, err := tlog.FormatRecord(int64(i), l.texts[i])
		check(err)
		v.Lookups = append(v.Lookups, lookup{
			Module:  fmt.Sprintf("example.com/m%03d", i),
			Version: "v1.0.0",
			Body:    string(body) + last.Note,
		})
	}

	for _, tn := range [][2]int64{{1, 0}, {5, 3}, {256, 255}, {257, 256}, {300, 0}, {300, 17}, {300, 256}, {300, 299}} {
		p, err := tlog.ProveRecord(tn[0], tn[1], l)
		check(err)
		v.RecordProofs = append(v.RecordProofs, proof{Tree: tn[0], Index: tn[1], Proof: hashes(p)})
	}
	for _, tn := range [][2]int64{{5, 1}, {5, 5}, {256, 200}, {257, 256}, {300, 1}, {300, 100}, {300, 257}} {
		p, err := tlog.ProveTree(tn[0], tn[1], l)
		check(err)
		v.TreeProofs = append(v.TreeProofs, proof{Tree: tn[0], Index: tn[1], Proof: hashes(p)})
	}

	for _, t := range []tlog.Tile{
		{H: height, L: 0, N: 0, W: 256}, {H: height, L: 0, N: 1, W: 44}, {H: height, L: 1, N: 0, W: 1},
		{H: height, L: 2, N: 999, W: 256}, {H: height, L: 0, N: 1000, W: 7}, {H: height, L: 0, N: 1234067, W: 256},
		{H: height, L: -1, N: 1, W: 44}, {H: height, L: -1, N: 1234067, W: 256},
	} {
		v.TilePaths = append(v.TilePaths, tilePath{L: t.L, N: t.N, W: t.W, Path: t.Path()})
	}

	text := "a note\nof two lines\n"
	other, err := note.Sign(&note.Note{Text: text}, otherSigner)
	check(err)
	both, err := note.Sign(&note.Note{Text: text}, otherSigner, signer)
	check(err)
	v.OtherSigned, v.BothSigned = string(other), string(both)

	leaf := tlog.RecordHash([]byte("hello\n"))
	v.LeafHash, v.NodeHash = leaf.String(), tlog.NodeHash(leaf, leaf).String()

	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", " ")
	check(out.Encode(v))
}
