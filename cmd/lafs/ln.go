package main

import "context"

const lnHelp = `usage: lafs [-d NODEDIR] ln [options] FROM_LINK TO_LINK

Duplicate a link (directory entry) already on the grid to elsewhere on the
grid: 'lafs ln alias:some_file alias:new_file' makes alias:new_file point to
the same object as alias:some_file. FROM_LINK may also be a cap.

(The argument order is that of Unix ln and of 'lafs cp': think of it as
copying a link.)

To link into a directory, end TO_LINK with a '/': 'lafs ln tahoe:file1
tahoe:dir/' is 'lafs ln tahoe:file1 tahoe:dir/file1'. Without the '/', ln
refuses to replace the directory tahoe:dir. Local files go to the grid with
'lafs cp'.`

// runLn is "tahoe ln": link FROM's object at TO as well.
func runLn(ctx context.Context, e *env, args []string) error {
	return moveOrLink(ctx, e, "ln", lnHelp, false, args)
}
