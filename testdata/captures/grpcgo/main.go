// Command grpcgo is a grpc-go server and client in one process, for
// record_grpc.sh: the same calls as the Python recording, with grpc-go's
// 16 KiB DATA frames, so large messages span frames. Messages are raw
// bytes (a codec that passes them through; no protobuf code generation).
//
// With -tls KEYLOG it listens on 127.0.0.1:50053 with TLS (a throwaway
// self-signed certificate) and the client writes its session keys to
// KEYLOG (the NSS key log format).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

type raw struct{}

func (raw) Marshal(v any) ([]byte, error)   { return *v.(*[]byte), nil }
func (raw) Unmarshal(b []byte, v any) error { *v.(*[]byte) = append([]byte(nil), b...); return nil }
func (raw) Name() string                    { return "proto" }

func handle(_ any, st grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(st)
	var req []byte
	switch method {
	case "/sockscope.Echo/Unary":
		if err := st.RecvMsg(&req); err != nil {
			return err
		}
		resp := append([]byte("echo:"), req...)
		return st.SendMsg(&resp)
	case "/sockscope.Echo/Fail":
		if err := st.RecvMsg(&req); err != nil {
			return err
		}
		return status.Error(codes.NotFound, "no such thing")
	case "/sockscope.Echo/Chat":
		for {
			if err := st.RecvMsg(&req); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
			resp := append([]byte("re:"), req...)
			if err := st.SendMsg(&resp); err != nil {
				return err
			}
		}
	case "/sockscope.Echo/Download":
		if err := st.RecvMsg(&req); err != nil {
			return err
		}
		for _, n := range []int{1, 20000, 5} {
			resp := make([]byte, n)
			if err := st.SendMsg(&resp); err != nil {
				return err
			}
		}
		return nil
	}
	return status.Error(codes.Unimplemented, method)
}

// selfSigned makes a throwaway certificate for 127.0.0.1.
func selfSigned() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sockscope.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func main() {
	keylog := flag.String("tls", "", "serve over TLS on 50053 and write the client's key log here")
	flag.Parse()
	addr := "127.0.0.1:50052"
	srvCreds, cliCreds := insecure.NewCredentials(), insecure.NewCredentials()
	if *keylog != "" {
		addr = "127.0.0.1:50053"
		kl, err := os.Create(*keylog)
		if err != nil {
			log.Fatal(err)
		}
		defer kl.Close()
		srvCreds = credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{selfSigned()}})
		cliCreds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true, KeyLogWriter: kl})
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(srvCreds), grpc.ForceServerCodec(raw{}), grpc.UnknownServiceHandler(handle))
	go srv.Serve(lis)
	defer srv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(cliCreds),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(raw{})))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	for _, req := range [][]byte{[]byte("hello framer"), make([]byte, 40000)} {
		var resp []byte
		if err := cc.Invoke(ctx, "/sockscope.Echo/Unary", &req, &resp); err != nil {
			log.Fatal(err)
		}
		fmt.Println("unary", len(resp))
	}
	req, resp := []byte("?"), []byte(nil)
	fmt.Println("fail", status.Code(cc.Invoke(ctx, "/sockscope.Echo/Fail", &req, &resp)))

	chat, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/sockscope.Echo/Chat")
	if err != nil {
		log.Fatal(err)
	}
	for i := range 20 {
		m := []byte(fmt.Sprintf("m%02d", i))
		if err := chat.SendMsg(&m); err != nil {
			log.Fatal(err)
		}
	}
	chat.CloseSend()
	n := 0
	for chat.RecvMsg(&resp) == nil {
		n++
	}
	fmt.Println("chat", n)

	dl, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/sockscope.Echo/Download")
	if err != nil {
		log.Fatal(err)
	}
	req = []byte("go")
	if err := dl.SendMsg(&req); err != nil {
		log.Fatal(err)
	}
	dl.CloseSend()
	for dl.RecvMsg(&resp) == nil {
		fmt.Println("download", len(resp))
	}
}
