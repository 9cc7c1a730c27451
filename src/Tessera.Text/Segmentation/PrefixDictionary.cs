using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Tessera.Text.Segmentation;

/// <summary>
/// jieba's prefix dictionary: every word with its frequency, and every prefix of a word (frequency 0), as a trie.
/// The root's children are a direct 64K table; deeper edges live in one open-addressing hash keyed by
/// (parent node, char), so a step down the trie is one probe into one array, with no allocation.
/// </summary>
/// <remarks>
/// Mirrors jieba's <c>FREQ</c> dict and <c>total</c>: a node "is in FREQ" when it exists, and is a word when its
/// frequency is positive. Reads are safe from many threads; mutation (<see cref="Set"/>) is not concurrent with reads.
/// </remarks>
public sealed partial class PrefixDictionary
{
    // An edge packs (parent << 16 | char) in its high 40 bits and the child id in its low 24 bits; 0 = empty slot
    // (parent ids start at 1). One 8-byte probe per step; 16M nodes at most.
    private const int ChildBits = 24;
    private const int MaxNodes = (1 << ChildBits) - 1;

    private readonly int[] _rootChild = new int[65536];
    private ulong[] _edges;
    private int _edgeCount;
    private int _shift;
    private long[] _freq;
    private double[] _logFreq;
    private short[] _tag;
    private int _nodeCount = 1; // node 0 = "absent"
    private readonly List<string> _tags = new() { "" };
    private readonly Dictionary<string, short> _tagIndex = new() { [""] = 0 };

    /// <summary>Creates an empty dictionary sized for about <paramref name="expectedNodes"/> trie nodes.</summary>
    public PrefixDictionary(int expectedNodes = 1024)
    {
        int bits = 4;
        while ((1 << bits) < expectedNodes * 2) bits++;
        _edges = new ulong[1 << bits];
        _shift = 64 - bits;
        _freq = new long[Math.Max(16, expectedNodes)];
        _logFreq = new double[_freq.Length];
        _tag = new short[_freq.Length];
    }

    /// <summary>Sum of all frequencies ever set (jieba's <c>total</c>; deleting a word does not lower it).</summary>
    public long Total { get; private set; }

    /// <summary>Number of trie nodes (words and prefixes).</summary>
    public int NodeCount => _nodeCount - 1;

    /// <summary>Bytes held by the trie's arrays (an estimate of its memory).</summary>
    public long ApproximateBytes =>
        _rootChild.Length * 4L + _edges.Length * 8L + _freq.Length * (8L + 8L + 2L);

    /// <summary>The node for the one-char prefix <paramref name="c"/>, or 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int First(char c) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_rootChild), c);

    /// <summary>The child of <paramref name="node"/> (≥ 1) along <paramref name="c"/>, or 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int Next(int node, char c)
    {
        ulong key = ((ulong)(uint)node << 16) | c;
        var edges = _edges;
        int mask = edges.Length - 1;
        int i = (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);
        ref ulong e0 = ref MemoryMarshal.GetArrayDataReference(edges);
        while (true)
        {
            ulong e = Unsafe.Add(ref e0, i);
            if (e >> ChildBits == key) return (int)(e & MaxNodes);
            if (e == 0) return 0;
            i = (i + 1) & mask;
        }
    }

    /// <summary>Frequency of a node (0 for a bare prefix).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal long Freq(int node) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_freq), node);

    /// <summary>log(freq), or 0 when freq is 0 (jieba's <c>log(FREQ.get(w) or 1)</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal double LogFreq(int node) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_logFreq), node);

    internal string? TagOf(int node) => _tag[node] == 0 ? null : _tags[_tag[node]];

    /// <summary>The node for <paramref name="word"/>, or 0 when it is neither a word nor a prefix.</summary>
    public int Find(ReadOnlySpan<char> word)
    {
        if (word.IsEmpty) return 0;
        int node = First(word[0]);
        for (int i = 1; i < word.Length && node != 0; i++) node = Next(node, word[i]);
        return node;
    }

    /// <summary>jieba's <c>FREQ.get(word)</c>: the frequency, 0 for a prefix, null when absent.</summary>
    public long? Frequency(ReadOnlySpan<char> word)
    {
        int n = Find(word);
        return n == 0 ? null : _freq[n];
    }

    /// <summary>True when <paramref name="word"/> is a word (frequency &gt; 0).</summary>
    public bool ContainsWord(ReadOnlySpan<char> word)
    {
        int n = Find(word);
        return n != 0 && _freq[n] > 0;
    }

    /// <summary>The POS tag recorded for <paramref name="word"/>, or null.</summary>
    public string? Tag(ReadOnlySpan<char> word)
    {
        int n = Find(word);
        return n == 0 ? null : TagOf(n);
    }

    /// <summary>
    /// Sets a word's frequency (and tag when given) and adds it to <see cref="Total"/>, creating its prefixes:
    /// jieba's <c>FREQ[word] = freq; total += freq</c>.
    /// </summary>
    public void Set(ReadOnlySpan<char> word, long freq, string? tag = null)
    {
        if (word.IsEmpty) throw new ArgumentException("a word cannot be empty", nameof(word));
        if (freq < 0) throw new ArgumentOutOfRangeException(nameof(freq), freq, "frequency must be ≥ 0");
        int node = AddPath(word);
        _freq[node] = freq;
        _logFreq[node] = freq > 0 ? Math.Log(freq) : 0.0;
        if (tag is not null) _tag[node] = TagIndex(tag);
        Total += freq;
    }

    private short TagIndex(string tag)
    {
        if (_tagIndex.TryGetValue(tag, out var t)) return t;
        if (_tags.Count >= short.MaxValue) throw new InvalidOperationException("too many distinct POS tags");
        t = (short)_tags.Count;
        _tags.Add(tag);
        _tagIndex[tag] = t;
        return t;
    }

    private short TagIndex(ReadOnlySpan<char> tag)
    {
        var lookup = _tagIndex.GetAlternateLookup<ReadOnlySpan<char>>();
        return lookup.TryGetValue(tag, out var t) ? t : TagIndex(tag.ToString());
    }

    private int AddPath(ReadOnlySpan<char> word)
    {
        int node = _rootChild[word[0]];
        if (node == 0) node = _rootChild[word[0]] = NewNode();
        for (int i = 1; i < word.Length; i++)
        {
            int child = Next(node, word[i]);
            if (child == 0) child = AddNewEdge(node, word[i]);
            node = child;
        }
        return node;
    }

    private int NewNode()
    {
        if (_nodeCount == MaxNodes) throw new InvalidOperationException("the dictionary is full (16M trie nodes)");
        if (_nodeCount == _freq.Length)
        {
            int n = _freq.Length * 2;
            Array.Resize(ref _freq, n);
            Array.Resize(ref _logFreq, n);
            Array.Resize(ref _tag, n);
        }
        return _nodeCount++;
    }

    private static void Insert(ulong[] edges, int shift, ulong key, int child)
    {
        int mask = edges.Length - 1;
        int i = (int)((key * 0x9E3779B97F4A7C15UL) >> shift);
        while (edges[i] != 0) i = (i + 1) & mask;
        edges[i] = key << ChildBits | (uint)child;
    }

    private void Grow()
    {
        var bigger = new ulong[_edges.Length * 2];
        int shift = _shift - 1;
        foreach (var e in _edges)
            if (e != 0) Insert(bigger, shift, e >> ChildBits, (int)(e & MaxNodes));
        _edges = bigger;
        _shift = shift;
    }

    /// <summary>Loads jieba's <c>dict.txt</c> format ("word freq [tag]" per line, UTF-8) from a stream.</summary>
    public static PrefixDictionary Load(Stream stream, string sourceName)
    {
        var ms = new MemoryStream();
        stream.CopyTo(ms);
        // dict.txt holds about one trie node per 10 bytes (jieba 0.42: 5.07 MB, 498k nodes).
        var dict = new PrefixDictionary(Math.Max(1024, (int)(ms.Length / 10)));
        dict.AddLines(ms.GetBuffer().AsSpan(0, (int)ms.Length), sourceName);
        return dict;
    }

    /// <summary>
    /// Loads a dictionary file: jieba's <c>dict.txt</c> format, or the compiled form (<see cref="SaveCompiled"/>);
    /// gunzipped first when the name ends in .gz.
    /// </summary>
    public static PrefixDictionary LoadFile(string path)
    {
        using var s = Data.EmbeddedData.OpenFile(path);
        var ms = new MemoryStream();
        s.CopyTo(ms);
        var bytes = ms.GetBuffer().AsSpan(0, (int)ms.Length);
        if (bytes.StartsWith(Magic)) return LoadCompiled(bytes, path);
        var dict = new PrefixDictionary(Math.Max(1024, bytes.Length / 10));
        dict.AddLines(bytes, path);
        return dict;
    }

    /// <summary>jieba 0.42's dictionary, from the compiled copy embedded in this assembly.</summary>
    public static PrefixDictionary LoadDefault() =>
        LoadCompiled(Data.EmbeddedData.Open(Data.EmbeddedData.DictionaryName), "dict.bin (embedded)");

    /// <summary>
    /// Adds "word freq [tag]" lines as jieba's <c>gen_pfdict</c> does: fields split on single spaces after
    /// trimming ASCII whitespace; a later duplicate overwrites the frequency, and every line adds to the total.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once per load: skip tier-0 code for the hot loop
    internal void AddLines(ReadOnlySpan<byte> text, string sourceName)
    {
        Span<char> buf = stackalloc char[256];
        Span<char> tag = stackalloc char[32];
        int lineNo = 0;
        while (!text.IsEmpty)
        {
            lineNo++;
            int nl = text.IndexOf((byte)'\n');
            var line = nl < 0 ? text : text[..nl];
            text = nl < 0 ? default : text[(nl + 1)..];
            line = TrimAscii(line);

            int sp1 = line.IndexOf((byte)' ');
            if (sp1 <= 0) throw Bad(sourceName, lineNo, line, sp1 == 0 ? "empty word" : "expected 'word frequency [tag]'");
            var wordBytes = line[..sp1];
            var rest = line[(sp1 + 1)..];
            int sp2 = rest.IndexOf((byte)' ');
            var freqBytes = sp2 < 0 ? rest : rest[..sp2];
            var tagBytes = sp2 < 0 ? default : rest[(sp2 + 1)..];
            if (!TryParseFreq(freqBytes, out long freq))
                throw Bad(sourceName, lineNo, line, "frequency is not a non-negative integer");

            Span<char> word = wordBytes.Length <= buf.Length ? buf : new char[wordBytes.Length];
            if (System.Text.Unicode.Utf8.ToUtf16(wordBytes, word, out _, out int n, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done)
                throw Bad(sourceName, lineNo, line, "not valid UTF-8");
            word = word[..n];

            int node = AddPath(word);
            _freq[node] = freq;
            _logFreq[node] = freq > 0 ? Math.Log(freq) : 0.0;
            if (!tagBytes.IsEmpty)
            {
                int sp3 = tagBytes.IndexOf((byte)' ');
                if (sp3 >= 0) tagBytes = tagBytes[..sp3];
                if (tagBytes.Length > 32 || !Ascii.IsValid(tagBytes)) throw Bad(sourceName, lineNo, line, "bad POS tag");
                int tn = Encoding.ASCII.GetChars(tagBytes, tag);
                _tag[node] = TagIndex(tag[..tn]);
            }
            Total += freq;
        }
    }

    private static DictionaryFormatException Bad(string source, int lineNo, ReadOnlySpan<byte> line, string reason) =>
        new(source, lineNo, Encoding.UTF8.GetString(line), reason);

    private static bool TryParseFreq(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 18) return false;
        foreach (byte b in s)
        {
            if ((uint)(b - '0') > 9) return false;
            value = value * 10 + (b - '0');
        }
        return true;
    }

    /// <summary>Python's <c>bytes.strip()</c>: ASCII space, \t, \n, \r, \v, \f.</summary>
    internal static ReadOnlySpan<byte> TrimAscii(ReadOnlySpan<byte> s)
    {
        static bool Ws(byte b) => b == ' ' || (b >= 9 && b <= 13);
        int a = 0, z = s.Length;
        while (a < z && Ws(s[a])) a++;
        while (z > a && Ws(s[z - 1])) z--;
        return s[a..z];
    }
}
