#!/usr/bin/python3
"""Writes tests/fixtures/text/: a slice of the real corpus plus edge cases, and jieba 0.42's output for them,
so that Tessera.Text.Tests compare with jieba without Python.
usage: /usr/bin/python3 tools/text/make_jieba_fixtures.py [CORPUS]   (default bench/out/text/zh_man.txt from
bench/text/make_corpus.sh: Debian manpages-zh 1.6.4.0, zh_CN pages rendered by man)
Files (JSON Lines, one input per line): input.jsonl (strings), then for each mode a JSON array per input:
hmm.jsonl, nohmm.jsonl, full.jsonl, search.jsonl (words), tokenize.jsonl ([word, start, end], default mode),
pos.jsonl ([word, flag] pairs, posseg with HMM)."""
import json, os, sys, logging
import jieba, jieba.posseg
jieba.setLogLevel(logging.WARNING)
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "bench", "out", "text", "zh_man.txt")
out = os.path.join(root, "tests", "fixtures", "text")
os.makedirs(out, exist_ok=True)

lines = open(corpus, encoding="utf-8").read().split("\n")
lines = [l for l in lines if l]
step = max(1, len(lines) // 900)
inputs = lines[::step][:900]

# Hand-written edge cases (not corpus): scripts, whitespace, numbers, emoji, OOV runs, punctuation.
inputs += [
    "", " ", "\t\u3000 \u00a0x", "a\r\nb", "我来到北京清华大学", "他来到了网易杭研大厦",
    "小明硕士毕业于中国科学院计算所，后在日本京都大学深造",
    "今天天气不错😀，我们去公园吧🎉🎉", "𠀀𠀁是扩展B区的字", "ＡＢＣ１２３全角数字和字母",
    "价格是3.14%还是１２.５％？版本v1.2.3-rc1", "C++和c#以及AT&T、T恤衫、AA制度、B超",
    "English words mixed with 中文 and 日本語のテキスト and 한국어", "email: foo_bar@example.com, url http://a.b/c?d=e#f",
    "1998年12月31日23:59:59", "李小福是创新办主任也是云计算方面的专家", "鹘鹙鹚鹛鹜鹝鹞鹟鹠鹡鹢鹣鹤鹥鹦鹧",
    "王晓鸣喜欢吃西兰花和鸡蛋饼", "ｈｅｌｌｏ　ｗｏｒｌｄ", "---___...%%%+++###&&&", "a.b.c 1.2.3 10%20%",
    "工信处女干事每月经过下属科室都要亲口交代24口交换机等技术性器件的安装工作",
]
def dump(name, rows):
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
dump("input.jsonl", inputs)
dump("hmm.jsonl", [jieba.lcut(s, HMM=True) for s in inputs])
dump("nohmm.jsonl", [jieba.lcut(s, HMM=False) for s in inputs])
dump("full.jsonl", [jieba.lcut(s, cut_all=True) for s in inputs])
dump("search.jsonl", [jieba.lcut_for_search(s, HMM=True) for s in inputs])
dump("tokenize.jsonl", [list(jieba.tokenize(s)) for s in inputs])
dump("pos.jsonl", [[[w, f] for w, f in jieba.posseg.lcut(s, HMM=True)] for s in inputs])
# User dictionary and run-time edits, replayed step by step on a fresh Tokenizer (jieba's own test sentences).
import io
userdict = "云计算 5\n李小福 2 nr\n创新办 3 i\neasy_install 3 eng\n好用 300\n韩玉赏鉴 3 nz\n八一双鹿 3 nz\n台中\n凱特琳 nz\nEdu Trust认证 2000\n"
sentences = ["李小福是创新办主任也是云计算方面的专家; 什么是八一双鹿", "例如我输入一个带“韩玉赏鉴”的标题，在自定义词库中也增加了此词为N类",
             "「台中」正確應該不會被切開。mac上可分出「石墨烯」；此時又可以分出來凱特琳了。", "如果放到post中将出错。", "easy_install is great"]
t = jieba.Tokenizer()
t.load_userdict(io.BytesIO(userdict.encode("utf-8")))
steps = [{"op": "load_userdict", "arg": userdict, "cuts": [t.lcut(x) for x in sentences]}]
t.add_word("石墨烯"); steps.append({"op": "add_word", "arg": "石墨烯", "cuts": [t.lcut(x) for x in sentences]})
t.add_word("凱特琳"); steps.append({"op": "add_word", "arg": "凱特琳", "cuts": [t.lcut(x) for x in sentences]})
t.del_word("自定义词"); steps.append({"op": "del_word", "arg": "自定义词", "cuts": [t.lcut(x) for x in sentences]})
f1 = t.suggest_freq(("中", "将"), True); steps.append({"op": "suggest_freq_split", "arg": "中|将", "freq": f1, "cuts": [t.lcut(x, HMM=False) for x in sentences]})
f2 = t.suggest_freq("台中", True); steps.append({"op": "suggest_freq_join", "arg": "台中", "freq": f2, "cuts": [t.lcut(x, HMM=False) for x in sentences]})
t.del_word("出错"); steps.append({"op": "del_word", "arg": "出错", "cuts": [t.lcut(x) for x in sentences]})
with open(os.path.join(out, "userdict.json"), "w", encoding="utf-8") as f:
    json.dump({"sentences": sentences, "steps": steps, "total": t.total}, f, ensure_ascii=False, indent=1)

# Keywords: documents of 40 consecutive corpus lines, TF-IDF and TextRank top 20 with weights.
import jieba.analyse
docs = ["\n".join(lines[i:i + 40]) for i in range(0, len(lines), len(lines) // 24)][:24]
kw = []
for doc in docs:
    kw.append({"text": doc,
               "tfidf": jieba.analyse.extract_tags(doc, topK=20, withWeight=True),
               "tfidf_pos": jieba.analyse.extract_tags(doc, topK=20, withWeight=True, allowPOS=("n", "v", "vn", "ns")),
               "textrank": jieba.analyse.textrank(doc, topK=20, withWeight=True)})
with open(os.path.join(out, "keywords.json"), "w", encoding="utf-8") as f:
    json.dump(kw, f, ensure_ascii=False)

with open(os.path.join(out, "README.md"), "w") as f:
    f.write("# jieba fixtures\n\nMade by `/usr/bin/python3 tools/text/make_jieba_fixtures.py` with jieba %s (Debian python3-jieba).\n"
            "`input.jsonl`: %d lines sampled evenly from the zh_CN manual pages of Debian's manpages-zh 1.6.4.0 "
            "(rendered by `bench/text/make_corpus.sh`), then hand-written edge cases. The other files are jieba's output "
            "for each input; `tokenize.jsonl` offsets count code points, as Python does. `userdict.json` replays "
            "load_userdict / add_word / del_word / suggest_freq on a fresh Tokenizer. `keywords.json`: jieba.analyse "
            "TF-IDF (plain and POS-filtered) and TextRank top 20 with weights for 24 documents of 40 corpus lines.\n" % (jieba.__version__, len(inputs) - 22))
print("wrote", len(inputs), "inputs to", out)
