package node

import (
	"math"
	"testing"
	"time"
)

// The expected values below were checked against Tahoe's own functions
// (util/abbreviate.py, util/time_format.py) and Python's int() and
// ConfigParser.getboolean.

func TestParseSize(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"", 0},
		{"123", 123},
		{"1000000", 1000000},
		{"123B", 123},
		{"2K", 2000},
		{"2kb", 2000},
		{"2KiB", 2048},
		{"10G", 10e9},
		{"5Gb", 5e9},
		{"5mB", 5e6},
		{"78Gb", 78e9},
		{"10MiB", 10 << 20},
		{"4GiB", 4 << 30},
		{"3TB", 3e12},
		{"6PiB", 6 << 50},
		{"9EB", 9e18},
		{"7i", 7},               // a bare I counts 1
		{"7IB", 7},              // so does IB
		{"1gı", 1 << 30},        // dotless i upper-cases to I, in Python too
		{"٣", 3},                // Arabic-Indic digit
		{"9EiB", math.MaxInt64}, // 9*2^60 saturates
		{"99999999999999999999999", math.MaxInt64},
	}
	for _, c := range good {
		got, err := ParseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"bogus", "10 G", "100 M", "1024 Ki", "1.5G", "G", "10GG", "10BB", "10KIBB", "-5", "+5", " 5", "5 ", "10X", "1_000"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseDuration(t *testing.T) {
	good := []struct {
		in   string
		want time.Duration
	}{
		{"0s", 0},
		{"60 s", time.Minute},
		{"  5 seconds ", 5 * time.Second},
		{"1 second", time.Second},
		{"2 DAYS", 48 * time.Hour},
		{"1day", 24 * time.Hour},
		{"3mo", 3 * 31 * 24 * time.Hour},
		{"1 Month", 31 * 24 * time.Hour},
		{"2 months", 62 * 24 * time.Hour},
		{"1 year", 365 * 24 * time.Hour},
		{"10 years", 3650 * 24 * time.Hour},
		{"1000 years", math.MaxInt64}, // saturates
	}
	for _, c := range good {
		got, err := ParseDuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "5", "days", "5d", "5 hours", "5 yr", "-5 s", "5ſ", "1.5 days", "5 s s"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseDate(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"2009-03-18", 1237334400},
		{"1970-01-01", 0},
		{"2009-03-45", 1237334400 + 27*86400},         // days roll over
		{"2009-03-18T12:00:00", 1237334400 + 12*3600}, // a full timestamp's time counts
		{"2009-03-18 01:02:03.7", 1237334400 + 3723},
		{"2009-03-18_00:00:00garbage", 1237334400},
		{"1969-12-31T23:59:59.5", 0}, // int() truncates toward zero
	}
	for _, c := range good {
		got, err := ParseDate(c.in)
		if err != nil || got.Unix() != c.want {
			t.Errorf("ParseDate(%q) = %v (%d), %v; want %d", c.in, got, got.Unix(), err, c.want)
		}
	}
	for _, in := range []string{"", "2009-3-18", "2009-13-01", "2009-00-01", "0000-01-01", "09-03-18", "March 18", "2009/03/18", "2009-03-18x"} {
		if got, err := ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", in, got)
		}
	}
}

func TestPyInt(t *testing.T) {
	good := map[string]int64{"3": 3, " 3 ": 3, "+3": 3, "-3": -3, "1_000": 1000, "007": 7, "٣": 3, "３": 3, "\u00a03": 3}
	for in, want := range good {
		if got, err := pyInt(in); err != nil || got != want {
			t.Errorf("pyInt(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "3.0", "0x10", "1__0", "_1", "1_", "three", "\x1c3", "99999999999999999999"} {
		if got, err := pyInt(in); err == nil {
			t.Errorf("pyInt(%q) = %d, want an error", in, got)
		}
	}
}

func TestPyBool(t *testing.T) {
	for _, in := range []string{"1", "yes", "true", "on", "True", "YES", "On"} {
		if b, err := pyBool(in); err != nil || !b {
			t.Errorf("pyBool(%q) = %v, %v", in, b, err)
		}
	}
	for _, in := range []string{"0", "no", "false", "off", "False", "NO", "Off"} {
		if b, err := pyBool(in); err != nil || b {
			t.Errorf("pyBool(%q) = %v, %v", in, b, err)
		}
	}
	for _, in := range []string{"", "y", "n", "2", "enabled", "truee"} {
		if _, err := pyBool(in); err == nil {
			t.Errorf("pyBool(%q): want an error", in)
		}
	}
}
