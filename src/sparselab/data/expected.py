"""Expected files, checksums, counts and official sources of the registered datasets.

Copied from shared/data/MANIFEST.md: for each file its sha256 as stored there (`gz_sha256`,
gzip -9 -n) and the sha256 of its uncompressed content (`sha256`, what `verify` checks, so a
re-compressed or plain copy also verifies). `judged: None` = not stated in the manifest.
A Python module rather than JSON so that it ships with any install of the package.
"""
# fmt: off
EXPECTED: dict = {
    "scifact": {
        "folder": "beir/scifact",
        "format": "beir",
        "title": "BEIR SciFact",
        "citation": "Wadden et al., 2020; Thakur et al., 2021 (BEIR)",
        "license": "CC BY-NC 2.0 (SciFact)",
        "counts": {
            "docs": 5183,
            "queries": {
                "test": 300,
                "train": 809
            },
            "qrels": {
                "test": 339,
                "train": 919
            },
            "judged": {
                "test": 300,
                "train": 809
            }
        },
        "source": {
            "kind": "zip",
            "url": "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip",
            "strip": "scifact/"
        },
        "files": {
            "corpus.jsonl": {
                "gz_bytes": 2752547,
                "gz_sha256": "7062adb7fd2931f40c846cf0215f4b8ba877bac94dc3d334bb9c4d714fb6fc33",
                "bytes": 8106566,
                "sha256": "dec31c8182f3d744c7d2c09423756fd1d17cbef75808db13ba01cc0aab4d1ac6"
            },
            "qrels/test.tsv": {
                "gz_bytes": 2200,
                "gz_sha256": "1ce9d3a254ae312237f140b1fd87c3c5b510a7120166bc57215c7fc97e7f661f",
                "bytes": 5389,
                "sha256": "0864bb985e0ca2367ba217977e72004d549054b2b06666ed9d4825ac7c21284c"
            },
            "qrels/train.tsv": {
                "gz_bytes": 5102,
                "gz_sha256": "2e5bcd7286a3e0a74887a5e91104f2ecd9cdbf3b6baf67be9417854916e5f5c0",
                "bytes": 14502,
                "sha256": "a53f2114831916c096b6c37d9e54da68cef4efdcdbd5ed46533601af972acf1d"
            },
            "queries.jsonl": {
                "gz_bytes": 48614,
                "gz_sha256": "077839d778aeece15c2df01eef81223f9905a0dabd352e3979c76f4296fdccf4",
                "bytes": 209731,
                "sha256": "8ff84a7c903f722981cd8d595c022660140c51867b27608a6d4910db86080313"
            }
        }
    },
    "nfcorpus": {
        "folder": "beir/nfcorpus",
        "format": "beir",
        "title": "BEIR NFCorpus",
        "citation": "Boteva et al., ECIR 2016; Thakur et al., 2021 (BEIR)",
        "license": "research data (HF BeIR tag cc-by-sa-4.0)",
        "counts": {
            "docs": 3633,
            "queries": {
                "test": 323,
                "dev": 324,
                "train": 2590
            },
            "qrels": {
                "test": 12334,
                "dev": 11385,
                "train": 110575
            },
            "judged": {
                "test": 323,
                "dev": 324,
                "train": 2590
            }
        },
        "source": {
            "kind": "zip",
            "url": "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/nfcorpus.zip",
            "strip": "nfcorpus/"
        },
        "files": {
            "corpus.jsonl": {
                "gz_bytes": 1973523,
                "gz_sha256": "a4460b6055c4b57eb3d78a19a4a28bc31429788c8e549c49f09caee9efbfa4c3",
                "bytes": 6219364,
                "sha256": "9127e0e7f4f89587540be1f1f350eec2a5bc203253f70517b8f34557a71e24ba"
            },
            "qrels/dev.tsv": {
                "gz_bytes": 29818,
                "gz_sha256": "9a4f3cf580d4df947f012ba861a60ee60e369537b20704706c7d886e6df19cb4",
                "bytes": 258218,
                "sha256": "b1d38b5e8f78c4a5820bce2b7ec2db54911d7690dc601e76811846b211180bd8"
            },
            "qrels/test.tsv": {
                "gz_bytes": 32175,
                "gz_sha256": "cd4e2dd9a33084ee60a6021ef56d615200566288ebd97a5ad5f19761a4a84b57",
                "bytes": 279572,
                "sha256": "f8fba6ef3d4dd9c3a242a8ba4ae38276fc3622fce7dcbae764766d564542fd2a"
            },
            "qrels/train.tsv": {
                "gz_bytes": 290241,
                "gz_sha256": "97c41fe208cc0d44cc9745596d9b0d1f63c2a1ac28816ef411ef5e915a088a3e",
                "bytes": 2504643,
                "sha256": "6336b80f9bffc4f063f3aa450047ad35c0b7c534efe4a6ba35e16dbace047f6a"
            },
            "queries.jsonl": {
                "gz_bytes": 78273,
                "gz_sha256": "5258025dfbf6ff34c85c350d6e36dccc5af4dc0aa7da23cd17738625230a410f",
                "bytes": 441466,
                "sha256": "d024e6621b84925d485ae473d316a0c3af31c62c8068a59fb29d22f7613aef2a"
            }
        }
    },
    "cranfield": {
        "folder": "classic/cranfield",
        "format": "cranfield",
        "title": "Cranfield 1400 (Glasgow)",
        "citation": "Cleverdon, 1967",
        "license": "research use (Glasgow IR group)",
        "counts": {
            "docs": 1400,
            "queries": {
                "test": 225
            },
            "qrels": {
                "test": 1837
            },
            "judged": {
                "test": 225
            }
        },
        "source": {
            "kind": "tar.gz",
            "url": "http://ir.dcs.gla.ac.uk/resources/test_collections/cran/cran.tar.gz",
            "sha256": "8c48a8412e4a7e6e0dd5af99c959f8d75fdf88135602adc1a56aa22770652d64"
        },
        "files": {
            "cran.all.1400": {
                "gz_bytes": 488773,
                "gz_sha256": "cc7c3a95a3164d5f015ee8241a204790b2f1ec8cf3d534703e90798fb7eb2728",
                "bytes": 1644706,
                "sha256": "b234544b6ceccd131520df4a3cb6d42aee6576eb577933d047e722bbfe7b0b09"
            },
            "cran.qry": {
                "gz_bytes": 9344,
                "gz_sha256": "07cb305a800947264df18bfa83361bafe83ec94f302f841ffa1d594fffd3777c",
                "bytes": 28957,
                "sha256": "99578ceb88941ef89c14faf7c63c23776a376d8fba319b990f01d0c601d8b03f"
            },
            "cranqrel": {
                "gz_bytes": 5698,
                "gz_sha256": "6301bd5fa07863561101d5516a648920089aaf6f6957e964bce494306cc6c9ae",
                "bytes": 19541,
                "sha256": "92e54b58dac0b980152178f350d892fae66c8a239b8a11715b835fb8d2f6bc0e"
            },
            "cranqrel.readme": {
                "gz_bytes": 757,
                "gz_sha256": "fee15c1e42adb042cb81f06318cdd4ec243646ad44200aab49a2a74e4fd682f9",
                "bytes": 1449,
                "sha256": "8f4cb2e60ab2324bb3ad980bdc8b9cf6a9b98a08d097d90a351485dd6e25433f"
            }
        }
    },
    "cisi": {
        "folder": "classic/cisi",
        "format": "smart",
        "title": "CISI (Glasgow)",
        "citation": "Fox, 1983 (Virginia Disc 1)",
        "license": "research use (Glasgow IR group)",
        "counts": {
            "docs": 1460,
            "queries": {
                "test": 112
            },
            "qrels": {
                "test": 3114
            },
            "judged": {
                "test": 76
            }
        },
        "source": {
            "kind": "tar.gz",
            "url": "http://ir.dcs.gla.ac.uk/resources/test_collections/cisi/cisi.tar.gz",
            "sha256": "bddb284e19369d153dad90770ae897e19221b0bc50e1329b5a702aa56f5e8483"
        },
        "files": {
            "CISI.ALL": {
                "gz_bytes": 738950,
                "gz_sha256": "ff7a61a63f196ad32696281ad8b909654cbc347b82301c747ee73629fd8c4427",
                "bytes": 2228098,
                "sha256": "df5af339fa4623ef33e315f39f3e13c050d17535c18360c727bf3c96ce60ba40"
            },
            "CISI.BLN": {
                "gz_bytes": 1337,
                "gz_sha256": "f22c148ce0b93398497dca50c87b138eee133614d8033abff0a2bf9af8aaed27",
                "bytes": 4581,
                "sha256": "b20a05947145ef0b79d9dc15c1444541406dce17856bc1b8b945520c940706ce"
            },
            "CISI.QRY": {
                "gz_bytes": 23635,
                "gz_sha256": "44be1663ad039b8f0b78bbe9046a77dd30dfbbedb81e11ab96b8f7f6e9dbc33f",
                "bytes": 68157,
                "sha256": "a5ffad2b39445ca5f4091351466b3d70dad9b4eb9a713b8334d46abb291ffd3c"
            },
            "CISI.REL": {
                "gz_bytes": 8647,
                "gz_sha256": "8528e4f1665aece2b4c6392e23ec25255cee8101a2a2f69ce665aa9bad524eda",
                "bytes": 80964,
                "sha256": "deb203a0dc07628d14dbcbc9a9803bf3c1f86e855570edb29d907663de8d6ea9"
            }
        }
    },
    "adi": {
        "folder": "classic/adi",
        "format": "smart",
        "title": "ADI (Glasgow)",
        "citation": "Fox, 1983 (Virginia Disc 1)",
        "license": "research use (Glasgow IR group)",
        "counts": {
            "docs": 82,
            "queries": {
                "test": 35
            },
            "qrels": {
                "test": 170
            },
            "judged": {
                "test": None
            }
        },
        "source": {
            "kind": "tar.gz",
            "url": "http://ir.dcs.gla.ac.uk/resources/test_collections/adi/adi.tar.gz",
            "sha256": "68c1867824cbad9e28ce498fafa644d5ac1a7a8a41cde0bffaf402095bbc7aa6"
        },
        "files": {
            "ADI.ALL": {
                "gz_bytes": 13974,
                "gz_sha256": "6a70d5816f601e9c180eb9e34d04590877162b026fb421b6b6c24e9a91ebf5d1",
                "bytes": 38233,
                "sha256": "7154f3d91194ca290e306da8803b24eef311064479ec33ab88dac7a9ecd4a3fa"
            },
            "ADI.BLN": {
                "gz_bytes": 1331,
                "gz_sha256": "b37f03c9ff2c709f6e54f06ed99b2ecb72e055ba7c19d8d10787acd3ea732cc3",
                "bytes": 4912,
                "sha256": "2b4461957f5d592209fcd1e30e3628520aa67b4eca357d58e2f6aaf044327f99"
            },
            "ADI.QRY": {
                "gz_bytes": 1637,
                "gz_sha256": "c3d70c13ea2a4d80a6776313e207ac3c012da0e29cce3f8ef3424990518be388",
                "bytes": 4211,
                "sha256": "845e2691fe54018e1ab3b8251c3b0b07e87aa5229de7b91f0c2d426ccdf92e61"
            },
            "ADI.REL": {
                "gz_bytes": 510,
                "gz_sha256": "eee278fa8a2b126ba23b01a02f996416e7166fff3e99042939ea634fc4f9ebe8",
                "bytes": 4534,
                "sha256": "8c75a2e1f0f02011ba1e6b25893d70ddd2f5602fc9a694a2ab6781e0ec66d745"
            }
        }
    },
    "tinyshakespeare": {
        "folder": "text/tinyshakespeare",
        "format": "text",
        "title": "tinyshakespeare (char-rnn)",
        "citation": "Karpathy, 2015 (char-rnn)",
        "license": "public domain text; repo MIT",
        "counts": {
            "chars": 1115394,
            "bytes": 1115394
        },
        "source": {
            "kind": "file",
            "url": "https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/input.txt"
        },
        "files": {
            "input.txt": {
                "gz_bytes": 433627,
                "gz_sha256": "bed00f18e91cda6838950656f0a95e07e0f4dbe8649a4b959f7602a7e53fbc6e",
                "bytes": 1115394,
                "sha256": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
            }
        }
    },
    "tinystories-sample": {
        "folder": "text/tinystories-sample",
        "format": "text",
        "title": "TinyStories sample (197 kB, weak provenance)",
        "citation": "Eldan & Li, 2023",
        "license": "CDLA-Sharing-1.0",
        "counts": {
            "bytes": 197290,
            "paragraphs": 1230
        },
        "source": {
            "kind": "file",
            "url": "https://raw.githubusercontent.com/Niklas6/Mini_GPT/0e9893779c9e2048205ea1339eb588983d72adc1/tinystories.txt"
        },
        "files": {
            "tinystories.txt": {
                "gz_bytes": 62513,
                "gz_sha256": "f0a2581873ec8e6add181d1c33c93f4e0af3262ab36227ab004f8d37445b7ae2",
                "bytes": 197290,
                "sha256": "727e8b228375be3075114c20729c93ed6e81ae5d8fe7faf7cb54b304f0322d70"
            }
        }
    }
}
