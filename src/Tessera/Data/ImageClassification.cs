using StbImageSharp;

namespace Tessera.Data;

/// <summary>
/// The image-classification pipeline of torchvision-style models: decode PNG/JPEG (StbImageSharp), resize the shorter
/// side (bilinear), center-crop, scale to [0, 1], normalize per channel and lay out as (1, 3, H, W); then softmax and
/// top-k against a labels file.
/// </summary>
/// <example><code>
/// var x = ImageClassification.Preprocess("cat.jpg");                 // (1, 3, 224, 224), ImageNet mean/std
/// var top = ImageClassification.TopK(logits, 5, ImageClassification.ReadLabels("labels.txt"));
/// </code></example>
public static class ImageClassification
{
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    /// <summary>Decodes an image file to RGB bytes (height, width, 3).</summary>
    public static (byte[] Rgb, int Height, int Width) Decode(string path)
    {
        var bytes = File.ReadAllBytes(path);
        try
        {
            var image = ImageResult.FromMemory(bytes, ColorComponents.RedGreenBlue);
            return (image.Data, image.Height, image.Width);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{path} is not a readable PNG/JPEG/BMP/GIF image: {e.Message}", e);
        }
    }

    /// <summary>The normalized (1, 3, crop, crop) tensor for an image file.</summary>
    public static Tensor Preprocess(string path, int resize = 256, int crop = 224, float[]? mean = null, float[]? std = null)
    {
        var (rgb, h, w) = Decode(path);
        return Preprocess(rgb, h, w, resize, crop, mean, std);
    }

    public static Tensor Preprocess(byte[] rgb, int height, int width, int resize = 256, int crop = 224, float[]? mean = null, float[]? std = null)
    {
        mean ??= ImageNetMean; std ??= ImageNetStd;
        if (crop > resize) throw new ArgumentException($"crop {crop} is larger than the resized shorter side {resize}.");
        // Resize so the shorter side is `resize`, as torchvision.transforms.Resize(int) does.
        double scale = (double)resize / Math.Min(height, width);
        int rh = Math.Max(crop, (int)Math.Round(height * scale)), rw = Math.Max(crop, (int)Math.Round(width * scale));
        int top = (rh - crop) / 2, left = (rw - crop) / 2;
        var result = new float[3 * crop * crop];
        for (int y = 0; y < crop; y++)
        {
            // Half-pixel centres, clamped at the borders (bilinear).
            double sy = Math.Clamp((y + top + 0.5) * height / rh - 0.5, 0, height - 1);
            int y0 = (int)sy, y1 = Math.Min(y0 + 1, height - 1);
            double fy = sy - y0;
            for (int x = 0; x < crop; x++)
            {
                double sx = Math.Clamp((x + left + 0.5) * width / rw - 0.5, 0, width - 1);
                int x0 = (int)sx, x1 = Math.Min(x0 + 1, width - 1);
                double fx = sx - x0;
                for (int c = 0; c < 3; c++)
                {
                    double v00 = rgb[(y0 * width + x0) * 3 + c], v01 = rgb[(y0 * width + x1) * 3 + c];
                    double v10 = rgb[(y1 * width + x0) * 3 + c], v11 = rgb[(y1 * width + x1) * 3 + c];
                    double v = (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy;
                    result[(c * crop + y) * crop + x] = (float)((v / 255.0 - mean[c]) / std[c]);
                }
            }
        }
        return Tensor.FromArray(result, 1, 3, crop, crop);
    }

    /// <summary>One label per line (blank lines kept, so line i is class i).</summary>
    public static string[] ReadLabels(string path) => File.ReadAllLines(path);

    /// <summary>The k most probable classes of the first row of logits, with softmax probabilities.</summary>
    public static List<(int Class, string Label, double Probability)> TopK(Tensor logits, int k, string[]? labels = null)
    {
        int classes = logits.Shape[^1];
        var v = new double[classes];
        for (int i = 0; i < classes; i++) v[i] = logits.GetDouble(i);
        double max = v.Max(), sum = v.Sum(x => Math.Exp(x - max));
        return [.. Enumerable.Range(0, classes)
            .Select(i => (Class: i, Label: labels is not null && i < labels.Length ? labels[i] : $"class {i}", Probability: Math.Exp(v[i] - max) / sum))
            .OrderByDescending(t => t.Probability)
            .Take(k)];
    }
}
