package main

import (
	"strconv"

	"github.com/lafs/lafs/crypt"
)

func b32(b []byte) string { return crypt.Base32(b) }
func itoa(n int) string   { return strconv.Itoa(n) }
