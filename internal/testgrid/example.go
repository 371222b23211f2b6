package testgrid

import (
	"fmt"
	"testing"
)

// NewForExample starts n servers for a runnable example (func ExampleX),
// which has no testing.TB: a failure to start panics.
func NewForExample(n int) *Grid {
	return New(panicTB{}, n)
}

// panicTB is the testing.TB that New needs, for code outside a test: it
// panics where a test would fail. New calls only the methods defined
// here; any other would panic on the nil embedded interface.
type panicTB struct{ testing.TB }

func (panicTB) Helper()                           {}
func (panicTB) Name() string                      { return "example" }
func (panicTB) Log(args ...any)                   {}
func (panicTB) Logf(format string, args ...any)   {}
func (panicTB) Error(args ...any)                 { panic(fmt.Sprint(args...)) }
func (panicTB) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (panicTB) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (panicTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (panicTB) Cleanup(func())                    {}
