// Command grpcgo is a grpc-go server and client in one process, for
// record_grpc.sh: the same calls as the Python recording, with grpc-go's
// 16 KiB DATA frames, so large messages span frames. Messages are raw
// bytes (a codec that passes them through; no protobuf code generation).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
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

func main() {
	lis, err := net.Listen("tcp", "127.0.0.1:50052")
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(raw{}), grpc.UnknownServiceHandler(handle))
	go srv.Serve(lis)
	defer srv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := grpc.NewClient("127.0.0.1:50052", grpc.WithTransportCredentials(insecure.NewCredentials()),
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
