using System.Buffers.Binary;
using System.IO.Compression;

namespace Tessera.Data;

/// <summary>
/// Reads the IDX format of MNIST and Fashion-MNIST (optionally gzip-compressed): a magic number (0, 0, type, rank),
/// big-endian dimension sizes, then the data. Only unsigned-byte data (type 0x08) is supported, as those sets use.
/// </summary>
public static class IdxReader
{
    /// <summary>Reads an IDX file into its dimensions and raw bytes.</summary>
    public static (int[] Dims, byte[] Data) Read(string path) => Read(path, (stream, dims, count) =>
    {
        var data = new byte[count];
        stream.ReadExactly(data);
        return data;
    });

    /// <summary>
    /// Opens an IDX file, checks its header and hands the stream, positioned at the data, to <paramref name="readData"/>
    /// with the dimensions and element count; format errors (bad magic, truncation, corrupt gzip) name the file.
    /// </summary>
    private static (int[] Dims, T Data) Read<T>(string path, Func<Stream, int[], long, T> readData)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file not found: {path}", path);
        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            Span<byte> header = stackalloc byte[4];
            stream.ReadExactly(header);
            if (header[0] != 0 || header[1] != 0)
                throw new InvalidDataException($"{path}: not an IDX file (magic bytes {header[0]:X2} {header[1]:X2}, expected 00 00).");
            if (header[2] != 0x08)
                throw new InvalidDataException($"{path}: IDX data type 0x{header[2]:X2} is not supported (only unsigned bytes, 0x08).");
            int rank = header[3];
            if (rank is < 1 or > 4) throw new InvalidDataException($"{path}: IDX rank {rank} is outside 1..4.");
            var dims = new int[rank];
            long count = 1;
            for (int i = 0; i < rank; i++)
            {
                stream.ReadExactly(header);
                dims[i] = BinaryPrimitives.ReadInt32BigEndian(header);
                if (dims[i] < 0) throw new InvalidDataException($"{path}: dimension {i} is negative ({dims[i]}).");
                count *= dims[i];
            }
            if (count > 1L << 31) throw new InvalidDataException($"{path}: {count} elements is too large.");
            return (dims, readData(stream, dims, count));
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{path}: the IDX file is truncated.");
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: corrupt gzip data ({e.Message}).", e);
        }
    }

    /// <summary>An image set and its label set as a dataset; pixels scaled to [0, 1], samples shaped (1, H, W).</summary>
    public static InMemoryDataset ReadImages(string imagesPath, string labelsPath)
    {
        // Pixels are converted to floats as they are decompressed, 64 KiB at a time: the whole byte image of the
        // set (47 MB for Fashion-MNIST's training images) never sits in memory beside its float copy.
        var (dims, features) = Read(imagesPath, (stream, dims, count) =>
        {
            if (dims.Length != 3) throw new InvalidDataException($"{imagesPath}: expected a rank-3 image file (N, H, W), got rank {dims.Length}.");
            var f = new float[count];
            var chunk = new byte[1 << 16];
            for (long done = 0; done < count;)
            {
                int n = (int)Math.Min(chunk.Length, count - done);
                stream.ReadExactly(chunk, 0, n);
                for (int i = 0; i < n; i++) f[done + i] = chunk[i] / 255f;
                done += n;
            }
            return f;
        });
        var (ldims, labels) = Read(labelsPath);
        if (ldims.Length != 1 || ldims[0] != dims[0])
            throw new InvalidDataException($"{labelsPath}: {(ldims.Length == 1 ? ldims[0] : -1)} labels for {dims[0]} images in {imagesPath}.");
        return new InMemoryDataset(features, [.. labels.Select(b => (long)b)], [1, dims[1], dims[2]]);
    }

    /// <summary>
    /// The train and test splits of an MNIST-style directory (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
    /// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]).
    /// </summary>
    public static (InMemoryDataset Train, InMemoryDataset Test) ReadMnistDirectory(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"Data directory not found: {dir}");
        string Find(string stem)
        {
            foreach (var candidate in new[] { stem + ".gz", stem })
                if (File.Exists(Path.Combine(dir, candidate))) return Path.Combine(dir, candidate);
            throw new FileNotFoundException($"{dir} has no {stem}[.gz] (an MNIST-style directory needs train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte).");
        }
        return (ReadImages(Find("train-images-idx3-ubyte"), Find("train-labels-idx1-ubyte")),
                ReadImages(Find("t10k-images-idx3-ubyte"), Find("t10k-labels-idx1-ubyte")));
    }
}
