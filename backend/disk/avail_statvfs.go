//go:build netbsd || solaris || illumos

package disk

import "golang.org/x/sys/unix"

// available returns the bytes free to unprivileged users of the file
// system holding dir.
func available(dir string) (uint64, error) {
	var st unix.Statvfs_t
	if err := unix.Statvfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Frsize), nil
}
