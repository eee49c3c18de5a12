// Command sumdb-server is the integration tests' checksum database: a real, signed Go checksum
// database (golang.org/x/mod/sumdb's server over its in-memory TestServer) on a loopback port,
// holding the go.sum lines it is given, so the go command can verify modules offline.
//
// It is built by the tests in GOPATH mode against Debian's golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o sumdb-server ./tests/sumdb-server
//
// Usage:
//
//	sumdb-server -name sumdb.test -gosum FILE -log FILE [-listen 127.0.0.1:0] [-pad N]
//
// FILE holds go.sum lines ("path version h1:..." and "path version/go.mod h1:..."). Their
// records are added to the log in the order their modules first appear, then -pad made-up
// records, so a test can have full tiles (256 records) as well as partial ones. A lookup of a
// module@version not in FILE answers 404, as sum.golang.org does for what it cannot find.
//
// Once listening it prints two lines on stdout, "KEY=<verifier key>" and "URL=http://ADDR",
// then serves /lookup/, /latest and /tile/ until killed. Every request's path is appended to
// the -log file, one line each, before it is answered, so a test can count what reached it.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
)

func main() {
	name := flag.String("name", "sumdb.test", "the database's name (the verifier key's name)")
	gosumFile := flag.String("gosum", "", "file of go.sum lines to serve")
	logFile := flag.String("log", "", "file each request's path is appended to")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	pad := flag.Int("pad", 0, "made-up records added after the given ones")
	flag.Parse()
	if *gosumFile == "" || *logFile == "" {
		log.Fatal("sumdb-server: -gosum and -log are required")
	}

	records, order, err := readGoSum(*gosumFile)
	if err != nil {
		log.Fatalf("sumdb-server: %v", err)
	}
	for i := 0; i < *pad; i++ {
		path, version := fmt.Sprintf("padding.example/m%04d", i), "v1.0.0"
		sum := sha256.Sum256([]byte(path))
		h1 := "h1:" + base64.StdEncoding.EncodeToString(sum[:])
		records[path+" "+version] = fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", path, version, h1, path, version, h1)
		order = append(order, module.Version{Path: path, Version: version})
	}

	signer, verifier, err := note.GenerateKey(rand.Reader, *name)
	if err != nil {
		log.Fatalf("sumdb-server: %v", err)
	}
	ops := sumdb.NewTestServer(signer, func(path, version string) ([]byte, error) {
		record, ok := records[path+" "+version]
		if !ok {
			// A *PathError, which os.IsNotExist (the server's test for 404) recognises.
			return nil, &fs.PathError{Op: "lookup", Path: path + "@" + version, Err: fs.ErrNotExist}
		}
		return []byte(record), nil
	})
	for _, m := range order {
		if _, err := ops.Lookup(context.Background(), m); err != nil {
			log.Fatalf("sumdb-server: adding %s: %v", m, err)
		}
	}

	requests, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatalf("sumdb-server: %v", err)
	}
	var logged sync.Mutex
	server := sumdb.NewServer(ops)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logged.Lock()
		fmt.Fprintln(requests, r.URL.Path)
		logged.Unlock()
		// The TestServer panics on a tile past the end of the log, which sum.golang.org
		// answers with 404.
		defer func() {
			if recover() != nil {
				http.Error(w, "tile not found", http.StatusNotFound)
			}
		}()
		server.ServeHTTP(w, r)
	})

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("sumdb-server: %v", err)
	}
	fmt.Printf("KEY=%s\nURL=http://%s\n", verifier, listener.Addr())
	os.Stdout.Sync()
	log.Fatal(http.Serve(listener, handler))
}

// readGoSum groups go.sum lines into one record per module@version (both lines, as
// sum.golang.org keeps them), and the order in which the modules first appear.
func readGoSum(file string) (map[string]string, []module.Version, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	records := map[string]string{}
	var order []module.Version
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			return nil, nil, fmt.Errorf("not a go.sum line: %q", scanner.Text())
		}
		path, version := fields[0], strings.TrimSuffix(fields[1], "/go.mod")
		key := path + " " + version
		if _, seen := records[key]; !seen {
			order = append(order, module.Version{Path: path, Version: version})
		}
		records[key] += strings.Join(fields, " ") + "\n"
	}
	return records, order, scanner.Err()
}
