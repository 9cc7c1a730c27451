using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.Text.Segmentation;

/// <summary>
/// jieba 0.42's word segmenter, token for token: a prefix dictionary gives a DAG of candidate words, the route
/// of maximum log-probability is found right to left, and runs of single chars that are not a word are re-cut
/// by the character HMM. Text is split into blocks with jieba's own character classes first.
/// </summary>
/// <example>
/// <code>
/// var seg = JiebaSegmenter.Shared;
/// var words = seg.Cut("我来到北京清华大学");        // 我 / 来到 / 北京 / 清华大学
/// var all = seg.Cut("我来到北京清华大学", SegmentMode.Full);
/// </code>
/// </example>
/// <remarks>
/// Cutting is safe from many threads at once. <see cref="AddWord"/>, <see cref="DeleteWord"/> and
/// <see cref="LoadUserDictionary(string)"/> must not run while another thread cuts.
/// Token offsets are UTF-16 indices (jieba's <c>tokenize</c> counts code points; they differ only after a
/// char outside the Basic Multilingual Plane, such as an emoji).
/// </remarks>
public sealed class JiebaSegmenter
{
    private readonly HashSet<string> _forceSplit = new();
    private HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _forceSplitLookup;

    [ThreadStatic] private static double[]? t_score;
    [ThreadStatic] private static int[]? t_next;
    [ThreadStatic] private static byte[]? t_path;
    [ThreadStatic] private static List<Token>? t_tokens;

    /// <summary>Creates a segmenter over a dictionary and an HMM (jieba's default HMM when null).</summary>
    public JiebaSegmenter(PrefixDictionary dictionary, HmmModel? hmm = null)
    {
        Dictionary = dictionary;
        Hmm = hmm ?? HmmModel.Default;
        _forceSplitLookup = _forceSplit.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The prefix dictionary (words, frequencies, POS tags).</summary>
    public PrefixDictionary Dictionary { get; }

    /// <summary>The character HMM used for out-of-vocabulary runs.</summary>
    public HmmModel Hmm { get; }

    /// <summary>A new segmenter with jieba's default dictionary (from the embedded data; its own mutable copy).</summary>
    public static JiebaSegmenter CreateDefault() => new(PrefixDictionary.LoadDefault());

    private static readonly Lazy<JiebaSegmenter> SharedInstance = new(CreateDefault);

    /// <summary>One process-wide segmenter with the default dictionary, loaded on first use. Do not add words to it.</summary>
    public static JiebaSegmenter Shared => SharedInstance.Value;

    // ---------------------------------------------------------------- public cutting API

    /// <summary>Cuts <paramref name="text"/> into words (strings).</summary>
    public List<string> Cut(string text, SegmentMode mode = SegmentMode.Accurate, bool hmm = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = t_tokens ??= new List<Token>();
        tokens.Clear();
        Cut(text, tokens, mode, hmm);
        var words = new List<string>(tokens.Count);
        foreach (var t in tokens) words.Add(t.ToString(text));
        return words;
    }

    /// <summary>Cuts UTF-8 bytes; invalid sequences become U+FFFD (never an exception).</summary>
    public List<string> CutUtf8(ReadOnlySpan<byte> utf8, SegmentMode mode = SegmentMode.Accurate, bool hmm = true) =>
        Cut(TextLines.Decode(utf8), mode, hmm);

    /// <summary>
    /// jieba's <c>tokenize</c>: each word with its start and end offsets. <paramref name="mode"/> is
    /// <see cref="SegmentMode.Accurate"/> ("default") or <see cref="SegmentMode.Search"/>.
    /// </summary>
    public List<(string Word, int Start, int End)> Tokenize(string text, SegmentMode mode = SegmentMode.Accurate, bool hmm = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (mode == SegmentMode.Full) throw new ArgumentException("tokenize supports the accurate and search modes (as jieba's does)", nameof(mode));
        var tokens = new List<Token>();
        Cut(text, tokens, mode, hmm);
        var result = new List<(string, int, int)>(tokens.Count);
        foreach (var t in tokens) result.Add((t.ToString(text), t.Start, t.End));
        return result;
    }

    /// <summary>
    /// Cuts <paramref name="text"/> and appends its words to <paramref name="output"/> as ranges of the text —
    /// the allocation-free form of <see cref="Cut(string, SegmentMode, bool)"/>.
    /// </summary>
    /// <remarks>In full mode jieba also yields empty strings around whitespace (its <c>re.split</c> pieces);
    /// they appear here as zero-length tokens so that the output matches token for token.</remarks>
    public void Cut(ReadOnlySpan<char> text, List<Token> output, SegmentMode mode = SegmentMode.Accurate, bool hmm = true)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (mode == SegmentMode.Search)
        {
            var acc = t_tokens ??= new List<Token>();
            if (ReferenceEquals(acc, output)) acc = new List<Token>();
            acc.Clear();
            CutBlocks(text, acc, full: false, hmm);
            foreach (var w in acc) EmitWithGrams(text, w, output);
            acc.Clear();
            return;
        }
        CutBlocks(text, output, mode == SegmentMode.Full, hmm);
    }

    private void EmitWithGrams(ReadOnlySpan<char> text, Token w, List<Token> output)
    {
        if (w.Length > 2)
            for (int i = 0; i < w.Length - 1; i++)
                if (Dictionary.ContainsWord(text.Slice(w.Start + i, 2))) output.Add(new Token(w.Start + i, 2));
        if (w.Length > 3)
            for (int i = 0; i < w.Length - 2; i++)
                if (Dictionary.ContainsWord(text.Slice(w.Start + i, 3))) output.Add(new Token(w.Start + i, 3));
        output.Add(w);
    }

    // ---------------------------------------------------------------- blocks (jieba.Tokenizer.cut)

    private void CutBlocks(ReadOnlySpan<char> text, List<Token> output, bool full, bool hmm)
    {
        int n = text.Length, i = 0;
        while (i < n)
        {
            int j = i;
            if (CharClass.IsHanBlock(text[i]))
            {
                while (j < n && CharClass.IsHanBlock(text[j])) j++;
                var block = text[i..j];
                if (full) CutAll(block, i, output);
                else if (hmm) CutDag(block, i, output);
                else CutDagNoHmm(block, i, output);
            }
            else
            {
                while (j < n && !CharClass.IsHanBlock(text[j])) j++;
                CutOther(text, i, j, full, output);
            }
            i = j;
        }
    }

    /// <summary>A block outside re_han: split on <c>(\r\n|\s)</c>; separators are words; the pieces between are
    /// single code points in accurate mode and whole (even empty) pieces in full mode.</summary>
    private static void CutOther(ReadOnlySpan<char> text, int a, int b, bool full, List<Token> output)
    {
        int piece = a, p = a;
        while (p < b)
        {
            char c = text[p];
            int sep = c == '\r' && p + 1 < b && text[p + 1] == '\n' ? 2 : CharClass.IsSpace(c) ? 1 : 0;
            if (sep > 0)
            {
                if (full) output.Add(new Token(piece, p - piece));
                output.Add(new Token(p, sep));
                p += sep;
                piece = p;
            }
            else if (full) p++;
            else
            {
                int len = char.IsHighSurrogate(c) && p + 1 < b && char.IsLowSurrogate(text[p + 1]) ? 2 : 1;
                output.Add(new Token(p, len));
                p += len;
                piece = p;
            }
        }
        if (full) output.Add(new Token(piece, b - piece));
    }

    // ---------------------------------------------------------------- DAG and route

    /// <summary>
    /// jieba's <c>calc</c>: for each start, the end of the word on the most probable route to the block's end.
    /// Scores are <c>(log(freq) - log(total)) + score[end]</c>, summed in jieba's order; ties go to the longer word.
    /// </summary>
    private int[] Route(ReadOnlySpan<char> s)
    {
        int n = s.Length;
        var score = t_score;
        var next = t_next;
        if (score == null || score.Length < n + 1)
        {
            int size = Math.Max(n + 1, 256);
            t_score = score = new double[size];
            t_next = next = new int[size];
        }
        var dict = Dictionary;
        double logTotal = Math.Log(dict.Total);
        score[n] = 0;
        for (int idx = n - 1; idx >= 0; idx--)
        {
            int node = dict.First(s[idx]);
            double best = 0;
            int bestEnd = -1;
            int x = idx;
            while (node != 0)
            {
                if (dict.Freq(node) > 0)
                {
                    double v = dict.LogFreq(node) - logTotal + score[x + 1];
                    if (bestEnd < 0 || v >= best) { best = v; bestEnd = x; }
                }
                if (++x >= n) break;
                node = dict.Next(node, s[x]);
            }
            if (bestEnd < 0)
            {
                // No word starts here: the char alone, with jieba's log(FREQ.get(c) or 1) = 0.
                best = 0.0 - logTotal + score[idx + 1];
                bestEnd = idx;
            }
            score[idx] = best;
            next![idx] = bestEnd + 1;
        }
        return next!;
    }

    /// <summary>The route for a block (<c>next[x]</c> = end of the word starting at x); valid until the next call on this thread.</summary>
    internal int[] RouteFor(ReadOnlySpan<char> block) => Route(block);

    /// <summary>Accurate mode with the HMM (jieba's <c>__cut_DAG</c>).</summary>
    private void CutDag(ReadOnlySpan<char> s, int offset, List<Token> output)
    {
        var next = Route(s);
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
                output.Add(new Token(offset + x, y - x));
            }
            x = y;
        }
        if (buf >= 0) FlushSingles(s, buf, n, offset, output);
    }

    /// <summary>A run of single-char words: one char stays; a run that is a word stays single chars;
    /// anything else goes to the HMM (jieba's <c>finalseg.cut</c>).</summary>
    private void FlushSingles(ReadOnlySpan<char> s, int a, int b, int offset, List<Token> output)
    {
        if (b - a == 1) { output.Add(new Token(offset + a, 1)); return; }
        if (Dictionary.ContainsWord(s[a..b]))
        {
            for (int i = a; i < b; i++) output.Add(new Token(offset + i, 1));
            return;
        }
        for (int p = a, q; p < b; p = q)
        {
            q = CharClass.HanRunEnd(s, p, b);
            if (CharClass.IsHan(s[p])) HmmCut(s[p..q], offset + p, output);
            else CutAlnum(s, p, q, offset, output);
        }
    }

    /// <summary>finalseg's <c>re_skip.split</c> with <c>([a-zA-Z0-9]+(?:\.\d+)?%?)</c>: matches and the text between them.</summary>
    private static void CutAlnum(ReadOnlySpan<char> s, int a, int b, int offset, List<Token> output)
    {
        int chunk = a, i = a;
        while (i < b)
        {
            if (!CharClass.IsEng(s[i])) { i++; continue; }
            int j = i;
            while (j < b && CharClass.IsEng(s[j])) j++;
            if (j + 1 < b && s[j] == '.' && CharClass.IsDigit(s[j + 1]))
            {
                j += 2;
                while (j < b && CharClass.IsDigit(s[j])) j++;
            }
            if (j < b && s[j] == '%') j++;
            if (chunk < i) output.Add(new Token(offset + chunk, i - chunk));
            output.Add(new Token(offset + i, j - i));
            i = chunk = j;
        }
        if (chunk < b) output.Add(new Token(offset + chunk, b - chunk));
    }

    private void HmmCut(ReadOnlySpan<char> s, int offset, List<Token> output)
    {
        int n = s.Length;
        var path = t_path;
        if (path == null || path.Length < n) t_path = path = new byte[Math.Max(n, 256)];
        Hmm.Viterbi(s, path);
        int begin = 0, nexti = 0;
        for (int i = 0; i < n; i++)
        {
            switch (path[i])
            {
                case HmmModel.B: begin = i; break;
                case HmmModel.E: EmitHmmWord(s, begin, i + 1, offset, output); nexti = i + 1; break;
                case HmmModel.S: EmitHmmWord(s, i, i + 1, offset, output); nexti = i + 1; break;
            }
        }
        if (nexti < n) EmitHmmWord(s, nexti, n, offset, output);
    }

    private void EmitHmmWord(ReadOnlySpan<char> s, int a, int b, int offset, List<Token> output)
    {
        if (_forceSplit.Count > 0 && b - a > 1 && _forceSplitLookup.Contains(s[a..b]))
        {
            for (int i = a; i < b; i++) output.Add(new Token(offset + i, 1));
            return;
        }
        output.Add(new Token(offset + a, b - a));
    }

    /// <summary>Accurate mode without the HMM (jieba's <c>__cut_DAG_NO_HMM</c>): runs of single ASCII letters/digits join.</summary>
    private void CutDagNoHmm(ReadOnlySpan<char> s, int offset, List<Token> output)
    {
        var next = Route(s);
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
                if (eng >= 0) { output.Add(new Token(offset + eng, x - eng)); eng = -1; }
                output.Add(new Token(offset + x, y - x));
            }
            x = y;
        }
        if (eng >= 0) output.Add(new Token(offset + eng, n - eng));
    }

    /// <summary>Full mode (jieba's <c>__cut_all</c>), including its joining of ASCII runs.</summary>
    private void CutAll(ReadOnlySpan<char> s, int offset, List<Token> output)
    {
        var dict = Dictionary;
        int n = s.Length, oldJ = -1;
        int engStart = -1, engEnd = 0;
        for (int k = 0; k < n; k++)
        {
            if (engStart >= 0 && !CharClass.IsEng(s[k]))
            {
                output.Add(new Token(offset + engStart, engEnd - engStart));
                engStart = -1;
            }
            // DAG[k]: the ends of the words starting at k, or k alone.
            int count = 0, onlyEnd = k;
            int node = dict.First(s[k]);
            for (int x = k; node != 0;)
            {
                if (dict.Freq(node) > 0) { count++; onlyEnd = x; }
                if (++x >= n) break;
                node = dict.Next(node, s[x]);
            }
            if (count <= 1 && k > oldJ)
            {
                if (CharClass.IsEng(s[k]))
                {
                    // jieba appends to its buffer; the runs it joins are contiguous with the dictionary shipped.
                    if (engStart < 0) engStart = k;
                    engEnd = onlyEnd + 1;
                }
                else output.Add(new Token(offset + k, onlyEnd + 1 - k));
                oldJ = onlyEnd;
            }
            else
            {
                node = dict.First(s[k]);
                for (int x = k; node != 0;)
                {
                    if (x > k && dict.Freq(node) > 0) { output.Add(new Token(offset + k, x + 1 - k)); oldJ = x; }
                    if (++x >= n) break;
                    node = dict.Next(node, s[x]);
                }
            }
        }
        if (engStart >= 0) output.Add(new Token(offset + engStart, engEnd - engStart));
    }

    // ---------------------------------------------------------------- dictionary edits

    /// <summary>
    /// jieba's <c>suggest_freq(word)</c>: the frequency that makes <paramref name="word"/> cut as one word
    /// (without the HMM). With <paramref name="tune"/> the word is added with it.
    /// </summary>
    public long SuggestFrequency(string word, bool tune = false)
    {
        double ftotal = Dictionary.Total;
        double freq = 1;
        foreach (var seg in Cut(word, SegmentMode.Accurate, hmm: false))
            freq *= (Dictionary.Frequency(seg) ?? 1) / ftotal;
        long f = Math.Max((long)(freq * Dictionary.Total) + 1, Dictionary.Frequency(word) ?? 1);
        if (tune) AddWord(word, f);
        return f;
    }

    /// <summary>jieba's <c>suggest_freq(segments)</c>: the frequency that makes the joined word cut into these segments.</summary>
    public long SuggestFrequency(IReadOnlyList<string> segments, bool tune = false)
    {
        double ftotal = Dictionary.Total;
        double freq = 1;
        foreach (var seg in segments) freq *= (Dictionary.Frequency(seg) ?? 1) / ftotal;
        string word = string.Concat(segments);
        long f = Math.Min((long)(freq * Dictionary.Total), Dictionary.Frequency(word) ?? 0);
        if (tune) AddWord(word, f);
        return f;
    }

    /// <summary>Adds (or re-weights) a word; without a frequency, one that makes it cut as a word (jieba's <c>add_word</c>).</summary>
    public void AddWord(string word, long? freq = null, string? tag = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(word);
        long f = freq ?? SuggestFrequency(word);
        Dictionary.Set(word, f, tag);
        if (f == 0) _forceSplit.Add(word);
    }

    /// <summary>Removes a word: frequency 0, and the HMM may no longer produce it (jieba's <c>del_word</c>).</summary>
    public void DeleteWord(string word) => AddWord(word, 0);

    private static readonly Regex UserDictLine = new(@"^(.+?)( [0-9]+)?( [a-z]+)?$", RegexOptions.CultureInvariant);

    /// <summary>Loads a user dictionary file: "word [freq] [tag]" per line, UTF-8 (jieba's <c>load_userdict</c>).</summary>
    public void LoadUserDictionary(string path)
    {
        using var s = Data.EmbeddedData.OpenFile(path);
        LoadUserDictionary(s, path);
    }

    /// <summary>Loads a user dictionary from a stream; a line that is not UTF-8 raises an error naming the line.</summary>
    public void LoadUserDictionary(Stream stream, string sourceName)
    {
        var ms = new MemoryStream();
        stream.CopyTo(ms);
        ReadOnlySpan<byte> text = ms.GetBuffer().AsSpan(0, (int)ms.Length);
        var utf8 = new UTF8Encoding(false, true);
        int lineNo = 0;
        while (!text.IsEmpty)
        {
            lineNo++;
            int nl = text.IndexOf((byte)'\n');
            var raw = PrefixDictionary.TrimAscii(nl < 0 ? text : text[..nl]);
            text = nl < 0 ? default : text[(nl + 1)..];
            string line;
            try { line = utf8.GetString(raw).TrimStart('\uFEFF'); }
            catch (DecoderFallbackException)
            {
                throw new DictionaryFormatException(sourceName, lineNo, Encoding.UTF8.GetString(raw), "not valid UTF-8");
            }
            if (line.Length == 0) continue;
            var m = UserDictLine.Match(line);
            if (!m.Success) throw new DictionaryFormatException(sourceName, lineNo, line, "expected 'word [freq] [tag]'");
            long? freq = null;
            if (m.Groups[2].Success)
            {
                if (!long.TryParse(m.Groups[2].Value.AsSpan(1), out long f))
                    throw new DictionaryFormatException(sourceName, lineNo, line, "frequency out of range");
                freq = f;
            }
            AddWord(m.Groups[1].Value, freq, m.Groups[3].Success ? m.Groups[3].Value[1..] : null);
        }
    }
}
