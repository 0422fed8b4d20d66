// Command kiln-vcsim serves govmomi's vCenter simulator (the VPX inventory model plus the vAPI REST handlers,
// content library included) over HTTPS on a loopback address, for Kiln's provider-vmware integration tests.
//
// It is built offline from Debian's golang-github-vmware-govmomi-dev sources (see build.sh), because Debian ships
// govmomi's library but not its vcsim command.
//
// On start it prints one JSON line to stdout and keeps serving until stdin is closed or it gets SIGINT/SIGTERM:
//
//	{"url":"https://user:pass@127.0.0.1:PORT/sdk","host":"127.0.0.1:PORT","thumbprint":"AB:CD:..."}
//
// "thumbprint" is the SHA-256 fingerprint of the self-signed certificate generated for this run, so that a client
// can pin it instead of switching TLS verification off.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"log"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator" // registers the vAPI REST endpoints (content library, tags)
)

func main() {
	listen := flag.String("l", "127.0.0.1:0", "address to listen on (port 0: a free port chosen by the kernel)")
	user := flag.String("username", "user", "the only user name Login accepts")
	pass := flag.String("password", "pass", "the only password Login accepts")
	quiet := flag.Bool("q", false, "do not log requests to stderr")
	flag.Parse()

	if *quiet {
		log.SetOutput(ioutil.Discard)
	}

	cert, thumbprint, err := selfSigned()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kiln-vcsim: certificate:", err)
		os.Exit(1)
	}

	model := simulator.VPX()
	if err := model.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "kiln-vcsim: model:", err)
		os.Exit(1)
	}
	defer model.Remove()

	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *pass)}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	model.Service.RegisterEndpoints = true

	server := model.Service.NewServer()
	defer server.Close()

	line, _ := json.Marshal(map[string]string{
		"url":        server.URL.String(),
		"host":       server.URL.Host,
		"thumbprint": thumbprint,
	})
	fmt.Println(string(line))

	// Stop when the parent goes away (stdin closed) or on a signal, so a killed test run leaves no server behind.
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(ioutil.Discard, os.Stdin)
		done <- struct{}{}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		done <- struct{}{}
	}()
	<-done
}

// selfSigned makes a fresh ECDSA certificate for 127.0.0.1/localhost and returns it with its SHA-256 thumbprint
// in the colon-separated upper-case form vSphere shows.
func selfSigned() (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kiln-vcsim"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	sum := sha256.Sum256(der)
	hex := make([]string, len(sum))
	for i, b := range sum {
		hex[i] = fmt.Sprintf("%02X", b)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, strings.Join(hex, ":"), nil
}
