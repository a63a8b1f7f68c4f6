-- 007_placeholder.sql: NOT PART OF THE nftmv WORK. Migration 007 belongs
-- to another branch; this empty step only keeps the numbering contiguous
-- (store.c requires NNN to be a file's position) so that 008 can be
-- tested on this branch. Drop this file when merging; the real 007 takes
-- its place.
SELECT 1;
