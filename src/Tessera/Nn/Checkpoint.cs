using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Nn;

/// <summary>Metrics of one training epoch.</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double? ValidationLoss,
    double? ValidationAccuracy, double Seconds, double SamplesPerSecond, double LearningRate);

/// <summary>What checkpoint.json records besides the tensors.</summary>
public sealed record CheckpointInfo(string Format, int Epoch, long OptimizerSteps, string WeightsFile, string Sha256,
    TrainingConfig Config, List<EpochMetrics> History);

/// <summary>
/// A checkpoint directory: <c>checkpoint.json</c> (config, epoch, optimizer step count, history, the weights file's
/// name and SHA-256) and <c>weights-epochNNNN.safetensors</c> (model parameters as "model.&lt;name&gt;", optimizer state as
/// "optim.&lt;name&gt;.&lt;slot&gt;"). Each file is written to a temporary name, flushed to disk and renamed; the JSON goes
/// last, so a crash at any moment leaves the previous (JSON, weights) pair intact and consistent.
/// </summary>
public static class Checkpoint
{
    public const string FileName = "checkpoint.json";
    private const string FormatName = "tessera-checkpoint-1";

    public static void Save(string dir, CheckpointInfo info, IEnumerable<(string Name, Tensor Value)> tensors)
    {
        Directory.CreateDirectory(dir);
        string weights = $"weights-epoch{info.Epoch:D4}.safetensors";
        byte[] bytes;
        using (var ms = new MemoryStream())
        {
            SafeTensors.Write(ms, tensors);
            bytes = ms.ToArray();
        }
        WriteAtomically(Path.Combine(dir, weights), bytes);
        var full = info with { Format = FormatName, WeightsFile = weights, Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)) };
        WriteAtomically(Path.Combine(dir, FileName), JsonSerializer.SerializeToUtf8Bytes(full, CheckpointJsonContext.Default.CheckpointInfo));
        foreach (var old in Directory.GetFiles(dir, "weights-epoch*.safetensors"))
            if (Path.GetFileName(old) != weights) File.Delete(old);
    }

    /// <summary>Reads and verifies a checkpoint; a missing file, bad JSON or checksum mismatch says exactly that.</summary>
    public static (CheckpointInfo Info, Dictionary<string, Tensor> Tensors) Load(string dir)
    {
        string jsonPath = Path.Combine(dir, FileName);
        if (!File.Exists(jsonPath)) throw new FileNotFoundException($"No checkpoint in {dir}: {FileName} is missing.", jsonPath);
        CheckpointInfo info;
        try
        {
            info = JsonSerializer.Deserialize(File.ReadAllBytes(jsonPath), CheckpointJsonContext.Default.CheckpointInfo)
                ?? throw new InvalidDataException($"{jsonPath} is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{jsonPath} is not a valid checkpoint ({e.Message}).", e);
        }
        if (info.Format != FormatName) throw new InvalidDataException($"{jsonPath}: unknown checkpoint format '{info.Format}'.");
        string weightsPath = Path.Combine(dir, info.WeightsFile);
        if (!File.Exists(weightsPath)) throw new FileNotFoundException($"Checkpoint {jsonPath} refers to {info.WeightsFile}, which is missing.", weightsPath);
        var bytes = File.ReadAllBytes(weightsPath);
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (actual != info.Sha256)
            throw new InvalidDataException($"Checkpoint checksum mismatch: {info.WeightsFile} has SHA-256 {actual}, {FileName} expects {info.Sha256}. The file is corrupt or was modified.");
        return (info, SafeTensors.Read(bytes, weightsPath));
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        string tmp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                f.Write(bytes);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(CheckpointInfo))]
internal sealed partial class CheckpointJsonContext : JsonSerializerContext;
