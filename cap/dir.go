package cap

import "fmt"

// Dir is a directory cap. A Tahoe directory is a file whose contents list
// the children, and its cap is that file's cap under a URI:DIR2 kind:
//
//	File               directory kind
//	*MutableWrite      URI:DIR2:           (SDMF)  URI:DIR2-MDMF:           (MDMF)
//	*MutableRead       URI:DIR2-RO:                URI:DIR2-MDMF-RO:
//	*MutableVerifier   URI:DIR2-Verifier:          URI:DIR2-MDMF-Verifier:
//	*CHK               URI:DIR2-CHK:       (immutable directory)
//	*CHKVerifier       URI:DIR2-CHK-Verifier:
//	*LIT               URI:DIR2-LIT:       (small immutable directory)
//
// File must be one of these; String panics on anything else. Access,
// mutability and the storage index are those of File.
type Dir struct{ File Cap }

func (d *Dir) String() string {
	var body string
	switch f := d.File.(type) {
	case *CHK:
		body = f.body()
	case *CHKVerifier:
		body = f.body()
	case *LIT:
		body = f.body()
	case *MutableWrite:
		body = f.body()
	case *MutableRead:
		body = f.body()
	case *MutableVerifier:
		body = f.body()
	default:
		panic(fmt.Sprintf("cap: a Dir cannot wrap %T", d.File))
	}
	return Kind(d) + ":" + body
}

// ReadOnly returns the directory's read cap (d itself when it is one).
func (d *Dir) ReadOnly() Cap { return d.wrap(d.File.ReadOnly()) }

// Verifier returns the directory's verify cap; nil for DIR2-LIT.
func (d *Dir) Verifier() Cap { return d.wrap(d.File.Verifier()) }

func (d *Dir) wrap(f Cap) Cap {
	switch f {
	case nil:
		return nil
	case d.File:
		return d
	}
	return &Dir{File: f}
}

func (d *Dir) IsMutable() bool  { return d.File.IsMutable() }
func (d *Dir) IsReadOnly() bool { return d.File.IsReadOnly() }
