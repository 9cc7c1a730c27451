namespace Tessera.Data;

/// <summary>
/// Reads a folder of images laid out one sub-folder per class (root/&lt;class&gt;/*.png|jpg), decoded with StbImageSharp,
/// resized to height × width (bilinear) and scaled to [0, 1]: samples (channels, height, width), grey (1) or RGB (3).
/// Classes are numbered in sorted order of their folder names.
/// </summary>
public static class ImageFolderDataset
{
    private static readonly string[] s_extensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga"];

    public static (InMemoryDataset Data, string[] Classes) Read(string root, int height, int width, bool grey = true)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Image folder not found: {root}");
        var classes = Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().OrderBy(s => s, StringComparer.Ordinal).ToArray();
        if (classes.Length == 0) throw new InvalidDataException($"{root} has no class sub-folders (expected root/<class>/<image>).");
        int channels = grey ? 1 : 3, size = channels * height * width;
        var features = new List<float>();
        var labels = new List<long>();
        for (int c = 0; c < classes.Length; c++)
        {
            foreach (var file in Directory.GetFiles(Path.Combine(root, classes[c])).Where(f => s_extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal))
            {
                byte[] rgb; int h, w;
                try { (rgb, h, w) = ImageClassification.Decode(file); }
                catch (Exception e) when (e is not OutOfMemoryException) { throw new InvalidDataException($"{file}: cannot decode the image ({e.Message}).", e); }
                var sample = new float[size];
                for (int y = 0; y < height; y++)
                {
                    double sy = Math.Clamp((y + 0.5) * h / height - 0.5, 0, h - 1);
                    int y0 = (int)sy, y1 = Math.Min(y0 + 1, h - 1);
                    double fy = sy - y0;
                    for (int x = 0; x < width; x++)
                    {
                        double sx = Math.Clamp((x + 0.5) * w / width - 0.5, 0, w - 1);
                        int x0 = (int)sx, x1 = Math.Min(x0 + 1, w - 1);
                        double fx = sx - x0;
                        double Pixel(int ch) =>
                            ((rgb[(y0 * w + x0) * 3 + ch] * (1 - fx) + rgb[(y0 * w + x1) * 3 + ch] * fx) * (1 - fy)
                           + (rgb[(y1 * w + x0) * 3 + ch] * (1 - fx) + rgb[(y1 * w + x1) * 3 + ch] * fx) * fy) / 255.0;
                        if (grey) sample[y * width + x] = (float)(0.299 * Pixel(0) + 0.587 * Pixel(1) + 0.114 * Pixel(2));
                        else for (int ch = 0; ch < 3; ch++) sample[(ch * height + y) * width + x] = (float)Pixel(ch);
                    }
                }
                features.AddRange(sample);
                labels.Add(c);
            }
        }
        if (labels.Count == 0) throw new InvalidDataException($"{root}: the class folders hold no images ({string.Join(", ", s_extensions)}).");
        return (new InMemoryDataset([.. features], [.. labels], [channels, height, width]), classes);
    }
}
