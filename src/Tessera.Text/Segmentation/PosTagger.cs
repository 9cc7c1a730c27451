namespace Tessera.Text.Segmentation;

/// <summary>A word (a range of the input) with its part-of-speech tag (jieba's ICTCLAS-style flags: n, v, nr, eng, m, x ...).</summary>
public readonly record struct TaggedToken(int Start, int Length, string Tag)
{
    public int End => Start + Length;
    public string Word(string text) => text.Substring(Start, Length);
}

/// <summary>
/// jieba 0.42's <c>posseg</c>: words from the segmenter's dictionary route carry their dictionary tag; runs the
/// dictionary cannot explain are cut and tagged together by the posseg HMM.
/// </summary>
/// <example><code>
/// var pos = new PosTagger(JiebaSegmenter.Shared);
/// foreach (var (word, tag) in pos.Tag("我爱北京天安门")) Console.Write($"{word}/{tag} ");   // 我/r 爱/v 北京/ns 天安门/ns
/// </code></example>
public sealed class PosTagger
{
    private readonly JiebaSegmenter _seg;
    private readonly PosHmmModel _hmm;

    public PosTagger(JiebaSegmenter segmenter, PosHmmModel? model = null)
    {
        _seg = segmenter;
        _hmm = model ?? PosHmmModel.Default;
    }

    /// <summary>Tags <paramref name="text"/>: (word, tag) pairs as jieba.posseg.cut yields them.</summary>
    public List<(string Word, string Tag)> Tag(string text, bool hmm = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<TaggedToken>();
        Tag(text, tokens, hmm);
        return tokens.Select(t => (t.Word(text), t.Tag)).ToList();
    }

    /// <summary>Tags <paramref name="text"/>, appending ranges with tags to <paramref name="output"/>.</summary>
    public void Tag(ReadOnlySpan<char> text, List<TaggedToken> output, bool hmm = true)
    {
        int n = text.Length, i = 0;
        while (i < n)
        {
            int j = i;
            if (CharClass.IsPosHanBlock(text[i]))
            {
                while (j < n && CharClass.IsPosHanBlock(text[j])) j++;
                if (hmm) CutDag(text[i..j], i, output);
                else CutDagNoHmm(text[i..j], i, output);
            }
            else
            {
                while (j < n && !CharClass.IsPosHanBlock(text[j])) j++;
                CutOther(text, i, j, output);
            }
            i = j;
        }
    }

    private static void CutOther(ReadOnlySpan<char> text, int a, int b, List<TaggedToken> output)
    {
        int piece = a, p = a;
        while (p <= b)
        {
            int sep = p == b ? -1 : text[p] == '\r' && p + 1 < b && text[p + 1] == '\n' ? 2 : CharClass.IsSpace(text[p]) ? 1 : 0;
            if (sep == 0) { p++; continue; }
            // The piece [piece, p): chars tagged one by one (jieba tests re_eng on the whole piece, re_num on the char).
            bool pieceEng = p > piece && CharClass.IsEng(text[piece]);
            for (int k = piece; k < p;)
            {
                int len = char.IsHighSurrogate(text[k]) && k + 1 < p && char.IsLowSurrogate(text[k + 1]) ? 2 : 1;
                char c = text[k];
                output.Add(new TaggedToken(k, len, c == '.' || CharClass.IsDigit(c) ? "m" : pieceEng ? "eng" : "x"));
                k += len;
            }
            if (sep < 0) break;
            output.Add(new TaggedToken(p, sep, "x"));
            p += sep;
            piece = p;
        }
    }

    private string TagOf(ReadOnlySpan<char> word) => _seg.Dictionary.Tag(word) ?? "x";

    private void CutDag(ReadOnlySpan<char> s, int offset, List<TaggedToken> output)
    {
        var next = _seg.RouteFor(s);
        int n = s.Length, x = 0, buf = -1;
        while (x < n)
        {
            int y = next[x];
            if (y - x == 1)
            {
                if (buf < 0) buf = x;
            }
            else
            {
                if (buf >= 0) { FlushSingles(s, buf, x, offset, output); buf = -1; }
                output.Add(new TaggedToken(offset + x, y - x, TagOf(s[x..y])));
            }
            x = y;
        }
        if (buf >= 0) FlushSingles(s, buf, n, offset, output);
    }

    private void FlushSingles(ReadOnlySpan<char> s, int a, int b, int offset, List<TaggedToken> output)
    {
        if (b - a == 1) { output.Add(new TaggedToken(offset + a, 1, TagOf(s[a..b]))); return; }
        if (_seg.Dictionary.ContainsWord(s[a..b]))
        {
            for (int i = a; i < b; i++) output.Add(new TaggedToken(offset + i, 1, TagOf(s[i..(i + 1)])));
            return;
        }
        // jieba's __cut_detail: Han runs through the posseg HMM, the rest split by ([\.0-9]+|[a-zA-Z0-9]+).
        for (int p = a, q; p < b; p = q)
        {
            q = CharClass.HanRunEnd(s, p, b);
            if (CharClass.IsHan(s[p])) HmmCut(s[p..q], offset + p, output);
            else CutDetailOther(s, p, q, offset, output);
        }
    }

    private static void CutDetailOther(ReadOnlySpan<char> s, int a, int b, int offset, List<TaggedToken> output)
    {
        static bool Num(char c) => c == '.' || CharClass.IsDigit(c);
        int chunk = a, i = a;
        while (i < b)
        {
            int j = i;
            if (Num(s[i])) while (j < b && Num(s[j])) j++;
            else if (CharClass.IsEng(s[i])) while (j < b && CharClass.IsEng(s[j])) j++;
            else { i++; continue; }
            if (chunk < i) output.Add(new TaggedToken(offset + chunk, i - chunk, Num(s[chunk]) ? "m" : CharClass.IsEng(s[chunk]) ? "eng" : "x"));
            output.Add(new TaggedToken(offset + i, j - i, Num(s[i]) ? "m" : "eng"));
            i = chunk = j;
        }
        if (chunk < b) output.Add(new TaggedToken(offset + chunk, b - chunk, "x"));
    }

    private void HmmCut(ReadOnlySpan<char> s, int offset, List<TaggedToken> output)
    {
        var route = _hmm.Viterbi(s);
        int begin = 0, nexti = 0, n = s.Length;
        for (int i = 0; i < n; i++)
        {
            switch (_hmm.Position(route[i]))
            {
                case 'B': begin = i; break;
                case 'E': output.Add(new TaggedToken(offset + begin, i + 1 - begin, _hmm.Tag(route[i]))); nexti = i + 1; break;
                case 'S': output.Add(new TaggedToken(offset + i, 1, _hmm.Tag(route[i]))); nexti = i + 1; break;
            }
        }
        if (nexti < n) output.Add(new TaggedToken(offset + nexti, n - nexti, _hmm.Tag(route[nexti])));
    }

    private void CutDagNoHmm(ReadOnlySpan<char> s, int offset, List<TaggedToken> output)
    {
        var next = _seg.RouteFor(s);
        int n = s.Length, x = 0, eng = -1;
        while (x < n)
        {
            int y = next[x];
            if (y - x == 1 && CharClass.IsEng(s[x]))
            {
                if (eng < 0) eng = x;
            }
            else
            {
                if (eng >= 0) { output.Add(new TaggedToken(offset + eng, x - eng, "eng")); eng = -1; }
                output.Add(new TaggedToken(offset + x, y - x, TagOf(s[x..y])));
            }
            x = y;
        }
        if (eng >= 0) output.Add(new TaggedToken(offset + eng, n - eng, "eng"));
    }
}
