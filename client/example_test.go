package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/dirnode"
	"github.com/lafs/lafs/memgrid"
)

// newClient returns a client over a fresh grid of ten storage servers in
// memory (package memgrid). A program would instead open the client of a
// node directory (node.OpenClient), whose servers are a real grid's.
func newClient() *client.Client {
	c, err := client.New(client.Config{
		Params:      lafs.DefaultParams, // 3-of-10, happy 7
		Convergence: []byte("the convergence secret of the examples"),
		LeaseSecret: []byte("the lease secret of the examples"),
		Peers:       memgrid.New(10),
	})
	if err != nil {
		panic(err)
	}
	return c
}

// Store a file and fetch it again by its cap. Immutable caps are
// convergent: the same bytes under the same convergence secret give the
// same cap.
func Example() {
	ctx := context.Background()
	c := newClient()
	defer c.Close()

	data := []byte("Hello, grid. This sentence is longer than fifty-five bytes, so it is stored as CHK shares.\n")
	up, err := c.Upload(ctx, bytes.NewReader(data), int64(len(data)), client.UploadOptions{})
	if err != nil {
		panic(err)
	}
	k := up.Cap
	fmt.Println(k.String()[:8])

	f, err := c.OpenFile(ctx, k)
	if err != nil {
		panic(err)
	}
	var out bytes.Buffer
	if _, err := f.WriteRange(ctx, &out, 0, -1); err != nil {
		panic(err)
	}
	fmt.Print(out.String())
	// Output:
	// URI:CHK:
	// Hello, grid. This sentence is longer than fifty-five bytes, so it is stored as CHK shares.
}

// A mutable file as a small key-value store: the write cap is the key,
// and whoever holds it can replace the value. The read cap lets others see
// every new value but not change it.
func ExampleClient_CreateMutable() {
	ctx := context.Background()
	c := newClient()
	defer c.Close()

	w, err := c.CreateMutable(ctx, []byte("color=blue"), cap.SDMF)
	if err != nil {
		panic(err)
	}
	f, err := c.OpenMutable(ctx, w)
	if err != nil {
		panic(err)
	}
	if err := f.Overwrite(ctx, []byte("color=green")); err != nil {
		panic(err)
	}

	reader, err := c.OpenMutable(ctx, w.ReadOnly())
	if err != nil {
		panic(err)
	}
	v, err := reader.Read(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s (version %d)\n", v, reader.Version())
	err = reader.Overwrite(ctx, []byte("color=red"))
	fmt.Println(errors.Is(err, client.ErrReadOnly))
	// Output:
	// color=green (version 2)
	// true
}

// Modify is a read-modify-write: if another writer publishes in between,
// the change is made again on top of the newer contents, so no update is
// lost.
func ExampleMutableFile_Modify() {
	ctx := context.Background()
	c := newClient()
	defer c.Close()

	k, err := c.CreateMutable(ctx, []byte("0"), cap.SDMF)
	if err != nil {
		panic(err)
	}
	f, err := c.OpenMutable(ctx, k)
	if err != nil {
		panic(err)
	}
	for range 3 {
		err := f.Modify(ctx, func(old []byte) ([]byte, error) {
			n, err := strconv.Atoi(string(old))
			return []byte(strconv.Itoa(n + 1)), err
		})
		if err != nil {
			panic(err)
		}
	}
	v, err := f.Read(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("counter=%s\n", v)
	// Output: counter=3
}

// MDMF files can be written in place: only the segments written are sent
// again.
func ExampleMutableFile_WriteAt() {
	ctx := context.Background()
	c := newClient()
	defer c.Close()

	k, err := c.CreateMutable(ctx, []byte("Hello, world!"), cap.MDMF)
	if err != nil {
		panic(err)
	}
	f, err := c.OpenMutable(ctx, k)
	if err != nil {
		panic(err)
	}
	if err := f.WriteAt(ctx, []byte("grid!"), 7); err != nil {
		panic(err)
	}
	v, err := f.Read(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", v)
	// Output: Hello, grid!!
}

// Make directories, link files into them, and walk a path.
func ExampleClient_CreateDir() {
	ctx := context.Background()
	c := newClient()
	defer c.Close()

	root, err := c.CreateDir(ctx, cap.SDMF)
	if err != nil {
		panic(err)
	}
	docs, err := root.Mkdir(ctx, "docs", cap.MDMF, client.ReplaceNone)
	if err != nil {
		panic(err)
	}
	data := []byte("tiny file") // 55 bytes or fewer: a LIT cap holds the data
	if _, err := docs.Upload(ctx, "readme.txt", bytes.NewReader(data), int64(len(data)), client.UploadOptions{}, client.ReplaceAny); err != nil {
		panic(err)
	}

	e, err := c.Resolve(ctx, root.Cap(), "docs/readme.txt")
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Name, e.Kind(), e.Cap())
	md, _ := e.Metadata.Get(dirnode.MetaTahoe)
	fmt.Println("keys of the tahoe metadata:", md.(*dirnode.Object).Keys())

	entries, err := root.List(ctx)
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		fmt.Println(e.Name, e.Kind())
	}
	// Output:
	// readme.txt filenode URI:LIT:oruw46jamzuwyzi
	// keys of the tahoe metadata: [linkcrtime linkmotime]
	// docs dirnode
}

// A read-only view of a directory lists no write caps and refuses changes.
func ExampleDir_ReadOnly() {
	ctx := context.Background()
	c := newClient()
	defer c.Close()

	root, err := c.CreateDir(ctx, cap.SDMF)
	if err != nil {
		panic(err)
	}
	if _, err := root.Mkdir(ctx, "sub", cap.SDMF, client.ReplaceNone); err != nil {
		panic(err)
	}
	ro := root.ReadOnly()
	entries, err := ro.List(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(entries[0].Name, "write cap:", entries[0].Write, "read-only:", entries[0].Read.IsReadOnly())
	_, err = ro.Mkdir(ctx, "other", cap.SDMF, client.ReplaceNone)
	fmt.Println(errors.Is(err, client.ErrNotWritable))
	// Output:
	// sub write cap: <nil> read-only: true
	// true
}

// Immutable directories are convergent too: the same children give the
// same cap.
func ExampleClient_CreateImmutableDir() {
	ctx := context.Background()
	c := newClient()
	defer c.Close()

	lit, err := dirnode.NewEntry("hello.txt", "URI:LIT:nbswy3dp", "", nil, false)
	if err != nil {
		panic(err)
	}
	d1, err := c.CreateImmutableDir(ctx, []dirnode.Entry{lit})
	if err != nil {
		panic(err)
	}
	d2, err := c.CreateImmutableDir(ctx, []dirnode.Entry{lit})
	if err != nil {
		panic(err)
	}
	fmt.Println(d1.Cap().String() == d2.Cap().String(), d1.IsMutable())
	empty, err := c.CreateImmutableDir(ctx, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(empty.Cap())
	// Output:
	// true false
	// URI:DIR2-LIT:
}
