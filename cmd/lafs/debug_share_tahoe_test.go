package main

// What Tahoe-LAFS 1.20's own "tahoe debug" printed for share files of the
// recorded vectors (tahoe120_grid.json, stored_shares.json,
// sdmf_old_shares.json), laid out under $DIR as TestDumpShareMatchesTahoe
// lays them out, with time.time() fixed at 1700000000.25. Each section is
// "=== verb|arg|arg..." and the exact output that followed. The last two
// are about shares made from those (node c): a CHK share whose URI
// extension has more fields (old uploads' plaintext hashes, unknown keys)
// and a second lease, and an SDMF share whose leases lie in the third slot
// and the second of two extra leases.
const tahoeShareOutputs = `
=== dump-share|--offsets|$DIR/a/storage/shares/m7/m7r4qvgbnxv5o6e6lblqj3bglm/3
share filename: '$DIR/a/storage/shares/m7/m7r4qvgbnxv5o6e6lblqj3bglm/3'
             version: 1
           file_size: 70000
        num_segments: 1
        segment_size: 70002
       needed_shares: 3
        total_shares: 10

          codec_name: crs
        codec_params: 70002-3-10
   tail_codec_params: 70002-3-10

      crypttext_hash: bihjjmiiwda7jqsl2pfaqlu2wspurcdjg5pgeerhipj53nqr7tmq
 crypttext_root_hash: cksofuwqlb2q76ydbt45jafgb6lg5q4jzwsv5r2fwrv53tw47rxq
     share_root_hash: qyzta3ku6tcpsuxc5gktxgbjwfztjuizwupmj3pbhn3os2nzwiga
            UEB_hash: 5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq
          verify-cap: URI:CHK-Verifier:m7r4qvgbnxv5o6e6lblqj3bglm:5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq:3:10:70000

 Size of data within the share:
                data: 23334
       uri-extension: 322
          validation: 266

 Section Offsets:
          share data: 12
            block data: 48   (0x30)
   plaintext_hash_tree: 23382   (0x5b56)
   crypttext_hash_tree: 23414   (0x5b76)
          block_hashes: 23446   (0x5b96)
          share_hashes: 23478   (0x5bb6)
         uri_extension: 23648   (0x5c60)
              leases: 23974

 Lease #0: owner=0, expire in 98410520s (1139 days)

=== dump-share|--offsets|$DIR/a/storage/shares/f6/f6w2ksnfa5dmmkwzkart2j2yhu/6
share filename: '$DIR/a/storage/shares/f6/f6w2ksnfa5dmmkwzkart2j2yhu/6'

Mutable slot found:
 share_type: SDMF
 write_enabler: 7swnxzckc663umsk4zeoyrqnpswqlmr2hjffhfxr4emexxs7kb3a
 WE for nodeid: uaqaw7qdnfc5zo6psniumf4wlngci4oi
 num_extra_leases: 0
 container_size: 2459
 data_length: 2459

 Lease #0:
  ownerid: 1
  expires in 98410532s (1139 days)
  renew_secret: hash:2itemp46galgbdeyeatv3lu2w6cfpmii3vcl6pzqkzcyzt4qrbna
  cancel_secret: hash:ivnccpqcz3n4hgslre7kemhxcvxiiqda7ttoixq5lmjn5b4rexaa
  secrets are for nodeid: uaqaw7qdnfc5zo6psniumf4wlngci4oi

 SDMF contents:
  seqnum: 2
  root_hash: o52mv6qip57qvcymmmyluk2vo7ag6yxgrcmbsgwpbky32uwt46iq
  IV: r6hrko4k7xsct5k6cmc7gjeb54
  required_shares: 3
  total_shares: 10
  segsize: 1251
  datalen: 1250
  enc_privkey: 1217 bytes
  pubkey: 294 bytes
  signature: 256 bytes
  share_hash_chain: 2,22,3,9
  block_hash_tree: 1 nodes
  verify-cap: URI:SSK-Verifier:f6w2ksnfa5dmmkwzkart2j2yhu:hjeqjsfvyffomowehx2jonjkxrmltczcpc7qlcvhp7jhj6ohs6wa

 Section Offsets:
         first lease: 100   (0x64)
          share data: 468   (0x1d4)
                seqnum: 469   (0x1d5)
             root_hash: 477   (0x1dd)
             signature: 869   (0x365)
      share_hash_chain: 1125   (0x465)
       block_hash_tree: 1261   (0x4ed)
            block data: 1293   (0x50d)
           enc_privkey: 1710   (0x6ae)
     end of share data: 2927   (0xb6f)
        extra leases: 2931   (0xb73)

=== dump-share|--offsets|$DIR/a/storage/shares/77/77yf6yars3ljmk3ghsfzmtndgi/8
share filename: '$DIR/a/storage/shares/77/77yf6yars3ljmk3ghsfzmtndgi/8'

Mutable slot found:
 share_type: MDMF
 write_enabler: z4rzcdebe2al2jkciymwnewe4llgychgtfxxd7pislrhnkexr7ta
 WE for nodeid: uaqaw7qdnfc5zo6psniumf4wlngci4oi
 num_extra_leases: 0
 container_size: 102439
 data_length: 102439

 Lease #0:
  ownerid: 1
  expires in 98410537s (1139 days)
  renew_secret: hash:s4g2baa4f4hpx2s3cnw6lhgevfibv3hdnozrzepmkbg2zmo7kydq
  cancel_secret: hash:afqjs76xsed5pkt2llhqwzdgcjwa4jhqksoqxrfrjwq4r4oo4yrq
  secrets are for nodeid: uaqaw7qdnfc5zo6psniumf4wlngci4oi

 MDMF contents:
  seqnum: 2
  root_hash: pytzg26srfdxmi5z5xb6cljalw34vts5tm7eyjzuq2tae7wsw3ca
  required_shares: 3
  total_shares: 10
  segsize: 131073
  datalen: 300000
  enc_privkey: 1218 bytes
  pubkey: 294 bytes
  signature: 256 bytes
  share_hash_chain: 1,6,12,24
  block_hash_tree: 7 nodes
  verify-cap: URI:MDMF-Verifier:77yf6yars3ljmk3ghsfzmtndgi:b3lzizesbbu3mrt6nnfetw6qwqpqehppt2s4g666amzti3ujjnwa

 Section Offsets:
  first lease: 100   (0x64)
  share data: 468   (0x1d4)
    seqnum: 469   (0x1d5)
    root_hash: 477   (0x1dd)
    enc_privkey: 591   (0x24f)
    share_hash_chain: 1809   (0x711)
    signature: 1945   (0x799)
    pubkey: 2201   (0x899)
    end of pubkey: 2495   (0x9bf)
    block data: 2635   (0xa4b)
    block_hash_tree: 102683   (0x1911b)
    end of share data: 102907   (0x191fb)
  extra leases: 102911   (0x191ff)

=== dump-share|$DIR/b/storage/shares/yj/yjetultfbohvhvm3nctuywmng4/0
share filename: '$DIR/b/storage/shares/yj/yjetultfbohvhvm3nctuywmng4/0'
             version: 1
           file_size: 310
        num_segments: 1
        segment_size: 312
       needed_shares: 3
        total_shares: 10

          codec_name: crs
        codec_params: 312-3-10
   tail_codec_params: 312-3-10

      crypttext_hash: s7zknxmt7566fxeqz6jhubp6juslqt4e5s6rsplxvnbnkf43w5gq
 crypttext_root_hash: ko25x6ok5hju72jkyey7ai2savh66f4qyr52es7uqekpbueyfp7a
     share_root_hash: a4wekjnpdvu42oe7tiotrzd3kcibcurnawksemiar3tmcesj4xkq
            UEB_hash: qcas2ebousfk3q5rkl2ncayeku52kpyse76v5yeel2t2eaa4f6ha
          verify-cap: URI:CHK-Verifier:yjetultfbohvhvm3nctuywmng4:qcas2ebousfk3q5rkl2ncayeku52kpyse76v5yeel2t2eaa4f6ha:3:10:310

 Size of data within the share:
                data: 104
       uri-extension: 312
          validation: 266

 Lease #0: owner=0, expire in -469057575s

=== dump-share|$DIR/b/storage/shares/cm/cmwuq4gsjrfi3qmixlxmucpbae/2
share filename: '$DIR/b/storage/shares/cm/cmwuq4gsjrfi3qmixlxmucpbae/2'

Mutable slot found:
 share_type: SDMF
 write_enabler: 7ngpjdnug75bpguid3lhfm4jepjq25vzl24cwj7odyt4qt7nnbcq
 WE for nodeid: ncieuno4yjvioe7fz5y7tqhl3nfrmawh
 num_extra_leases: 0
 container_size: 2170
 data_length: 2170

 Lease #0:
  ownerid: 1
  expires in -469057574s
  renew_secret: n3iwnglb25zmk6i56a6wffqzu2k6uoq4rkeldcwv6ljxxga3g7vq
  cancel_secret: 7ugdvv2xut7hwbttcjfsacuhc7ipf43gvrgrt5vj7hau52uenoyq
  secrets are for nodeid: ncieuno4yjvioe7fz5y7tqhl3nfrmawh

 SDMF contents:
  seqnum: 1
  root_hash: dqcetbn6wciolcdj67npv5lllwycs7c3bi77b7noyhe5qrabbsma
  IV: goxyj5ogez7efv6oj2dh5brucq
  required_shares: 3
  total_shares: 10
  segsize: 390
  datalen: 390
  enc_privkey: 1217 bytes
  pubkey: 292 bytes
  signature: 256 bytes
  share_hash_chain: 18,2,4,7
  block_hash_tree: 1 nodes
  verify-cap: URI:SSK-Verifier:cmwuq4gsjrfi3qmixlxmucpbae:euw4iw7bbnkrrwpzuburbhppuxhc3gwxv26f6imekhz7zyw2ojnq

=== dump-share|--leases-only|$DIR/b/storage/shares/yj/yjetultfbohvhvm3nctuywmng4/5
share filename: '$DIR/b/storage/shares/yj/yjetultfbohvhvm3nctuywmng4/5'

 Lease #0: owner=0, expire in -469057575s

=== dump-share|--offsets|$DIR/b/storage/shares/nx/nxq4vhp7ifntsc4ycuciy5lxt4/3
share filename: '$DIR/b/storage/shares/nx/nxq4vhp7ifntsc4ycuciy5lxt4/3'

Mutable slot found:
 share_type: SDMF
 write_enabler: dpaiwpk5xrtujzvsb2s76hdn7rnt3tanc7tds5gpo24bkw4zl2fa
 WE for nodeid: yrelnu3uu5uszfocuqof3zhb63p5wzpg
 num_extra_leases: 0
 container_size: 2044
 data_length: 2044

 Lease #0:
  ownerid: 1
  expires in -385533125s
  renew_secret: ruwhwwl43izjozlysyl4dcyrbfptndgqhgq6y7m3myqv2ko33dzq
  cancel_secret: uh5pxqwuwe2tib6ropiy433m2an44f3wzr2snzxwn2yr4ksmvxja
  secrets are for nodeid: yrelnu3uu5uszfocuqof3zhb63p5wzpg

 SDMF contents:
  seqnum: 1
  root_hash: njrgtlf6tzzlwdvakko225jgll3yxk6j6migbtumlhzcxv26wsgq
  IV: 46qx33wivwgmckofoqd7en2lny
  required_shares: 3
  total_shares: 10
  segsize: 21
  datalen: 21
  enc_privkey: 1214 bytes
  pubkey: 292 bytes
  signature: 256 bytes
  share_hash_chain: 17,2,4,7
  block_hash_tree: 1 nodes
  verify-cap: URI:SSK-Verifier:nxq4vhp7ifntsc4ycuciy5lxt4:5adm6fayxmu3e4lkmfvt6lkkfix34ai2wop2ioqr4bgvvhiol3kq

 Section Offsets:
         first lease: 100   (0x64)
          share data: 468   (0x1d4)
                seqnum: 469   (0x1d5)
             root_hash: 477   (0x1dd)
             signature: 867   (0x363)
      share_hash_chain: 1123   (0x463)
       block_hash_tree: 1259   (0x4eb)
            block data: 1291   (0x50b)
           enc_privkey: 1298   (0x512)
     end of share data: 2512   (0x9d0)
        extra leases: 2516   (0x9d4)

=== catalog-shares|$DIR/a|$DIR/b
MDMF 77yf6yars3ljmk3ghsfzmtndgi 3/10 300000 #2:pytzg26srfdxmi5z5xb6cljalw34vts5tm7eyjzuq2tae7wsw3ca 98410537 '$DIR/a/storage/shares/77/77yf6yars3ljmk3ghsfzmtndgi/8'
SDMF f6w2ksnfa5dmmkwzkart2j2yhu 3/10 1250 #2:o52mv6qip57qvcymmmyluk2vo7ag6yxgrcmbsgwpbky32uwt46iq 98410532 '$DIR/a/storage/shares/f6/f6w2ksnfa5dmmkwzkart2j2yhu/6'
CHK m7r4qvgbnxv5o6e6lblqj3bglm 3/10 70000 5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq 98410520 '$DIR/a/storage/shares/m7/m7r4qvgbnxv5o6e6lblqj3bglm/3'
SDMF cmwuq4gsjrfi3qmixlxmucpbae 3/10 390 #1:dqcetbn6wciolcdj67npv5lllwycs7c3bi77b7noyhe5qrabbsma 0 '$DIR/b/storage/shares/cm/cmwuq4gsjrfi3qmixlxmucpbae/2'
SDMF nxq4vhp7ifntsc4ycuciy5lxt4 3/10 21 #1:njrgtlf6tzzlwdvakko225jgll3yxk6j6migbtumlhzcxv26wsgq 0 '$DIR/b/storage/shares/nx/nxq4vhp7ifntsc4ycuciy5lxt4/3'
CHK yjetultfbohvhvm3nctuywmng4 3/10 310 qcas2ebousfk3q5rkl2ncayeku52kpyse76v5yeel2t2eaa4f6ha 0 '$DIR/b/storage/shares/yj/yjetultfbohvhvm3nctuywmng4/0'
CHK yjetultfbohvhvm3nctuywmng4 3/10 310 qcas2ebousfk3q5rkl2ncayeku52kpyse76v5yeel2t2eaa4f6ha 0 '$DIR/b/storage/shares/yj/yjetultfbohvhvm3nctuywmng4/5'
=== dump-share|--offsets|$DIR/c/storage/shares/m7/m7r4qvgbnxv5o6e6lblqj3bglm/0
share filename: '$DIR/c/storage/shares/m7/m7r4qvgbnxv5o6e6lblqj3bglm/0'
             version: 1
           file_size: 70000
        num_segments: 1
        segment_size: 70002
       needed_shares: 3
        total_shares: 10

          codec_name: crs
        codec_params: 70002-3-10
   tail_codec_params: 70002-3-10

      plaintext_hash: aeaqcaibaeaqcaibaeaqcaibaeaqcaibaeaqcaibaeaqcaibaeaq
 plaintext_root_hash: aibaeaqcaibaeaqcaibaeaqcaibaeaqcaibaeaqcaibaeaqcaiba
      crypttext_hash: bihjjmiiwda7jqsl2pfaqlu2wspurcdjg5pgeerhipj53nqr7tmq
 crypttext_root_hash: cksofuwqlb2q76ydbt45jafgb6lg5q4jzwsv5r2fwrv53tw47rxq
     share_root_hash: qyzta3ku6tcpsuxc5gktxgbjwfztjuizwupmj3pbhn3os2nzwiga
            UEB_hash: k4lewwf5tvtq75rnj4m5riw5leh6rqvpxkh672pdajp7dy2rg2kq

LEFTOVER:
                 foo: bar
             zz_hash: ambqgayd
          verify-cap: URI:CHK-Verifier:m7r4qvgbnxv5o6e6lblqj3bglm:k4lewwf5tvtq75rnj4m5riw5leh6rqvpxkh672pdajp7dy2rg2kq:3:10:70000

 Size of data within the share:
                data: 23334
       uri-extension: 455
          validation: 266

 Section Offsets:
          share data: 12
            block data: 48   (0x30)
   plaintext_hash_tree: 23382   (0x5b56)
   crypttext_hash_tree: 23414   (0x5b76)
          block_hashes: 23446   (0x5b96)
          share_hashes: 23478   (0x5bb6)
         uri_extension: 23648   (0x5c60)
              leases: 24107

 Lease #0: owner=0, expire in 98410520s (1139 days)
 Lease #1: owner=0, expire in 4999s (1 hours)

=== dump-share|$DIR/c/storage/shares/f6/f6w2ksnfa5dmmkwzkart2j2yhu/2
share filename: '$DIR/c/storage/shares/f6/f6w2ksnfa5dmmkwzkart2j2yhu/2'

Mutable slot found:
 share_type: SDMF
 write_enabler: 7swnxzckc663umsk4zeoyrqnpswqlmr2hjffhfxr4emexxs7kb3a
 WE for nodeid: uaqaw7qdnfc5zo6psniumf4wlngci4oi
 num_extra_leases: 2
 container_size: 2459
 data_length: 2459

 Lease #2:
  ownerid: 1
  expires in 98410532s (1139 days)
  renew_secret: hash:2itemp46galgbdeyeatv3lu2w6cfpmii3vcl6pzqkzcyzt4qrbna
  cancel_secret: hash:ivnccpqcz3n4hgslre7kemhxcvxiiqda7ttoixq5lmjn5b4rexaa
  secrets are for nodeid: uaqaw7qdnfc5zo6psniumf4wlngci4oi

 Lease #5:
  ownerid: 1
  expires in 7199s (1 hours)
  renew_secret: hash:2itemp46galgbdeyeatv3lu2w6cfpmii3vcl6pzqkzcyzt4qrbna
  cancel_secret: hash:ivnccpqcz3n4hgslre7kemhxcvxiiqda7ttoixq5lmjn5b4rexaa
  secrets are for nodeid: uaqaw7qdnfc5zo6psniumf4wlngci4oi

 SDMF contents:
  seqnum: 2
  root_hash: o52mv6qip57qvcymmmyluk2vo7ag6yxgrcmbsgwpbky32uwt46iq
  IV: r6hrko4k7xsct5k6cmc7gjeb54
  required_shares: 3
  total_shares: 10
  segsize: 1251
  datalen: 1250
  enc_privkey: 1217 bytes
  pubkey: 294 bytes
  signature: 256 bytes
  share_hash_chain: 2,22,3,9
  block_hash_tree: 1 nodes
  verify-cap: URI:SSK-Verifier:f6w2ksnfa5dmmkwzkart2j2yhu:hjeqjsfvyffomowehx2jonjkxrmltczcpc7qlcvhp7jhj6ohs6wa

`
