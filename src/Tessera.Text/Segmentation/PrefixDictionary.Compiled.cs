using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Tessera.Text.Segmentation;

/// <summary>
/// The compiled form of a prefix dictionary: the trie's explicit nodes in depth-first order with sorted children,
/// each as (length of the prefix shared with the previous word, the rest of the word, frequency, tag). Loading it
/// creates every node exactly once with no lookups, which is what makes the default dictionary load fast.
/// </summary>
/// <remarks>
/// Layout (little-endian; varints are LEB128): "TSJIEBA1", varint node count, varint total, varint tag count,
/// tags (varint length + ASCII), varint entry count, then per entry: varint shared prefix, varint suffix length,
/// suffix as UTF-16 units (2 bytes each), varint frequency, varint tag index (0 = none).
/// Made by <c>tessera text compile-dict dict.txt dict.bin.gz</c> (see tools/text/README.md).
/// </remarks>
public sealed partial class PrefixDictionary
{
    private static ReadOnlySpan<byte> Magic => "TSJIEBA1"u8;

    /// <summary>Writes the compiled form (see the type's remarks).</summary>
    public void SaveCompiled(Stream stream)
    {
        // Children of each node, sorted by char; the root's come from the direct table.
        var children = new List<(char C, int Node)>[_nodeCount];
        for (int i = 0; i < _edges.Length; i++)
        {
            ulong e = _edges[i];
            if (e == 0) continue;
            ulong key = e >> ChildBits;
            int parent = (int)(key >> 16);
            (children[parent] ??= new()).Add(((char)(key & 0xFFFF), (int)(e & MaxNodes)));
        }
        foreach (var list in children) list?.Sort((a, b) => a.C.CompareTo(b.C));

        var body = new MemoryStream();
        var word = new List<char>();
        var prev = new List<char>();
        int entries = 0;
        void Visit(int node)
        {
            bool leaf = children[node] is null;
            if (leaf || _freq[node] > 0 || _tag[node] != 0)
            {
                int shared = 0;
                while (shared < prev.Count && shared < word.Count && prev[shared] == word[shared]) shared++;
                WriteVarint(body, (ulong)shared);
                WriteVarint(body, (ulong)(word.Count - shared));
                for (int i = shared; i < word.Count; i++) { body.WriteByte((byte)word[i]); body.WriteByte((byte)(word[i] >> 8)); }
                WriteVarint(body, (ulong)_freq[node]);
                WriteVarint(body, (ulong)_tag[node]);
                prev.Clear();
                prev.AddRange(word);
                entries++;
            }
            if (children[node] is { } kids)
                foreach (var (c, child) in kids)
                {
                    word.Add(c);
                    Visit(child);
                    word.RemoveAt(word.Count - 1);
                }
        }
        for (int c = 0; c < 65536; c++)
        {
            if (_rootChild[c] == 0) continue;
            word.Add((char)c);
            Visit(_rootChild[c]);
            word.Clear();
        }

        stream.Write(Magic);
        WriteVarint(stream, (ulong)NodeCount);
        WriteVarint(stream, (ulong)Total);
        WriteVarint(stream, (ulong)_tags.Count);
        foreach (var t in _tags)
        {
            WriteVarint(stream, (ulong)t.Length);
            stream.Write(Encoding.ASCII.GetBytes(t));
        }
        WriteVarint(stream, (ulong)entries);
        body.Position = 0;
        body.CopyTo(stream);
    }

    /// <summary>Reads the compiled form written by <see cref="SaveCompiled"/>.</summary>
    public static PrefixDictionary LoadCompiled(Stream stream, string sourceName)
    {
        var ms = new MemoryStream();
        stream.CopyTo(ms);
        return LoadCompiled(ms.GetBuffer().AsSpan(0, (int)ms.Length), sourceName);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once per load: skip tier-0 code for the hot loop
    private static PrefixDictionary LoadCompiled(ReadOnlySpan<byte> data, string sourceName)
    {
        int pos = 0;
        if (!data.StartsWith(Magic)) throw new DictionaryFormatException(sourceName, 1, "", "not a compiled Tessera dictionary");
        pos = Magic.Length;
        int entry = 0;
        try
        {
            int nodes = checked((int)ReadVarint(data, ref pos));
            if (nodes >= MaxNodes) throw new FormatException("too many nodes");
            var d = new PrefixDictionary(nodes + 1);
            d.Total = checked((long)ReadVarint(data, ref pos));
            int tagCount = checked((int)ReadVarint(data, ref pos));
            for (int i = 0; i < tagCount; i++)
            {
                int len = checked((int)ReadVarint(data, ref pos));
                if (i > 0) d.TagIndex(Encoding.ASCII.GetString(data.Slice(pos, len)));  // tag 0 is "no tag"
                pos += len;
            }
            int entries = checked((int)ReadVarint(data, ref pos));
            var path = new int[64];
            for (entry = 1; entry <= entries; entry++)
            {
                int shared = checked((int)ReadVarint(data, ref pos));
                int suffix = checked((int)ReadVarint(data, ref pos));
                if (shared + suffix > path.Length) Array.Resize(ref path, Math.Max(path.Length * 2, shared + suffix));
                int node = shared == 0 ? 0 : path[shared - 1];
                for (int i = 0; i < suffix; i++)
                {
                    char c = (char)BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(pos, 2));
                    pos += 2;
                    // Sorted, depth-first input: every suffix char is a new node, so no lookup is needed.
                    if (node == 0)
                    {
                        if (d._rootChild[c] != 0) throw new FormatException("entries out of order");
                        node = d._rootChild[c] = d.NewNode();
                    }
                    else node = d.AddNewEdge(node, c);
                    path[shared + i] = node;
                }
                if (node == 0) throw new FormatException("empty word");
                long freq = checked((long)ReadVarint(data, ref pos));
                int tag = checked((int)ReadVarint(data, ref pos));
                if (tag >= d._tags.Count) throw new FormatException("bad tag index");
                d._freq[node] = freq;
                d._logFreq[node] = freq > 0 ? Math.Log(freq) : 0.0;
                d._tag[node] = (short)tag;
            }
            if (d.NodeCount != nodes) throw new FormatException($"{d.NodeCount} nodes read, {nodes} declared");
            return d;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            throw new DictionaryFormatException(sourceName, entry, $"(entry {entry}, byte {pos})", "corrupt compiled dictionary: " + e.Message);
        }
    }

    private int AddNewEdge(int parent, char c)
    {
        if ((_edgeCount + 1) * 2 > _edges.Length) Grow();
        int child = NewNode();
        Insert(_edges, _shift, ((ulong)(uint)parent << 16) | c, child);
        _edgeCount++;
        return child;
    }

    private static void WriteVarint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong v = 0;
        int shift = 0;
        while (true)
        {
            byte b = data[pos++];
            v |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return v;
            shift += 7;
            if (shift > 63) throw new FormatException("varint too long");
        }
    }
}
