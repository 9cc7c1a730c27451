#!/usr/bin/python3
"""Second labelled dataset from real text: the Simplified Chinese translations shipped in Debian's gettext catalogs
(/usr/share/locale/zh_CN/LC_MESSAGES/DOMAIN.mo), labelled by the program (gettext domain) they translate:
git, postgres-15, gnupg2, coreutils, libc, dpkg, binutils, gtk30. Text = one translated message (msgstr; plural
forms joined by a space), kept when it has at least 4 Han chars; printf placeholders are left as they are.
Split by message: a message goes to the test set when crc32(its English msgid) % 5 == 0 (about 20%).
Writes bench/out/text/mo_domains_train.csv and ..._test.csv (columns text,label), and mo_texts.txt (every text, one
per line: the second corpus for bench/text/jieba_compare.sh).
Needs the packages that ship those catalogs (git, postgresql-15, gnupg, coreutils, libc-bin, dpkg, binutils, libgtk-3-common).
usage: /usr/bin/python3 bench/text/make_mo_dataset.py"""
import csv, gettext, os, re, zlib
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
out = os.path.join(root, "bench", "out", "text")
os.makedirs(out, exist_ok=True)
domains = ["git", "postgres-15", "gnupg2", "coreutils", "libc", "dpkg", "binutils", "gtk30"]
han = re.compile("[\u4e00-\u9fff]")
rows = {"train": [], "test": []}
for d in domains:
    path = "/usr/share/locale/zh_CN/LC_MESSAGES/%s.mo" % d
    if not os.path.exists(path):
        print("missing", path); continue
    cat = gettext.GNUTranslations(open(path, "rb"))._catalog
    merged = {}
    for key, text in cat.items():
        msgid = key[0] if isinstance(key, tuple) else key
        if not msgid:
            continue  # the header entry
        merged.setdefault(msgid, []).append(text)
    for msgid, texts in sorted(merged.items()):
        text = " ".join(t.replace("\n", " ").replace("\r", " ") for t in texts).strip()
        if len(han.findall(text)) >= 4:
            split = "test" if zlib.crc32(msgid.encode("utf-8")) % 5 == 0 else "train"
            rows[split].append((text, d))
for split, r in rows.items():
    with open(os.path.join(out, "mo_domains_%s.csv" % split), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(r)
    counts = {}
    for _, l in r: counts[l] = counts.get(l, 0) + 1
    print(split, len(r), sorted(counts.items()))
with open(os.path.join(out, "mo_texts.txt"), "w", encoding="utf-8") as f:
    for split in ("train", "test"):
        for text, _ in rows[split]:
            f.write(text + "\n")
