package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/gatehouse-auth/gatehouse/caddymodule"
)

// The child modes: this program is also the Caddy it measures (so one
// `go run ./bench` needs nothing built beforehand), and the crypto
// bound is measured in a child on the same core as Caddy.

// runCaddyChild runs Caddy on a Caddyfile until SIGTERM. SIGUSR1 makes
// it collect garbage and return free memory to the OS, so the parent can
// read the resident size of what is live, not of garbage the runtime has
// not returned yet (instrumentation of this program, not of Gatehouse).
func runCaddyChild(caddyfile, dir string) {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			debug.FreeOSMemory()
		}
	}()
	os.Setenv("XDG_DATA_HOME", filepath.Join(dir, "xdg-data"))
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg-config"))
	os.Args = []string{os.Args[0], "run", "--config", caddyfile, "--adapter", "caddyfile"}
	caddycmd.Main()
}

// cryptoFigures are signatures per second on one core.
type cryptoFigures struct {
	RS256PerSec float64 `json:"rs256_signs_per_sec"`
	ES256PerSec float64 `json:"es256_signs_per_sec"`
}

// runCryptoChild signs with RSA-2048 (RS256) and P-256 (ES256) for d each
// and prints the rates as JSON.
func runCryptoChild(d time.Duration) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		fail(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail(err)
	}
	digest := sha256.Sum256([]byte("header.payload of a typical token"))
	rate := func(sign func() error) float64 {
		n, start := 0, time.Now()
		for time.Since(start) < d {
			if err := sign(); err != nil {
				fail(err)
			}
			n++
		}
		return float64(n) / time.Since(start).Seconds()
	}
	out := cryptoFigures{
		RS256PerSec: rate(func() error {
			_, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, digest[:])
			return err
		}),
		ES256PerSec: rate(func() error {
			_, err := ecdsa.SignASN1(rand.Reader, ecKey, digest[:])
			return err
		}),
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

// measureCrypto runs the crypto child and reads its figures.
func measureCrypto(d time.Duration) (cryptoFigures, error) {
	c, err := startChild("-child-crypto", d.String())
	if err != nil {
		return cryptoFigures{}, err
	}
	if err := c.cmd.Wait(); err != nil {
		return cryptoFigures{}, fmt.Errorf("crypto child: %v: %s", err, c.log)
	}
	var f cryptoFigures
	if err := json.Unmarshal(c.log.Bytes(), &f); err != nil {
		return f, fmt.Errorf("crypto child output %q: %v", c.log, err)
	}
	return f, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
