using System.Runtime.InteropServices;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Tessera.Serving.Hosting;
using Tessera.Serving.Http;
using Tessera.Serving.Metrics;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;
using Tessera.Serving.Grpc.Inference;
using static Tessera.Serving.Grpc.Inference.GRPCInferenceService;

namespace Tessera.Serving.Grpc;

/// <summary>
/// <c>inference.GRPCInferenceService</c>: the same request path as REST. Outputs always travel as
/// <c>raw_output_contents</c>, as Triton sends them; inputs may be raw or typed <c>contents</c>.
/// </summary>
public sealed class InferenceGrpcService(InferenceService service, ServingOptions options, ServingMetrics metrics,
    ModelRepository repository, ILogger<InferenceGrpcService> logger) : GRPCInferenceServiceBase
{
    private static RpcException ToRpc(InferenceException e) => new(new Status(e.StatusCode switch
    {
        400 or 413 => StatusCode.InvalidArgument,
        404 => StatusCode.NotFound,
        429 => StatusCode.ResourceExhausted,
        499 => StatusCode.Cancelled,
        503 => StatusCode.Unavailable,
        504 => StatusCode.DeadlineExceeded,
        _ => StatusCode.Internal,
    }, e.Message));

    private static async Task<T> Guard<T>(Func<Task<T>> body)
    {
        try { return await body(); }
        catch (InferenceException e) { throw ToRpc(e); }
    }

    public override Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerLiveResponse { Live = true });

    public override Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerReadyResponse { Ready = true });

    public override Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context) =>
        Guard(() => Task.FromResult(new ModelReadyResponse { Ready = service.Cache.IsReady(request.Name, NullIfEmpty(request.Version)) }));

    public override Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context)
    {
        var r = new ServerMetadataResponse { Name = RestEndpoints.ServerName, Version = RestEndpoints.ServerVersion };
        r.Extensions.AddRange(RestEndpoints.Extensions(options));
        return Task.FromResult(r);
    }

    public override Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context) => Guard(async () =>
    {
        var m = await service.MetadataAsync(request.Name, NullIfEmpty(request.Version), context.CancellationToken);
        var r = new ModelMetadataResponse { Name = m.Name, Platform = m.Platform };
        r.Versions.AddRange(m.Versions);
        foreach (var s in m.Inputs) r.Inputs.Add(Meta(s));
        foreach (var s in m.Outputs) r.Outputs.Add(Meta(s));
        return r;
    });

    private static ModelMetadataResponse.Types.TensorMetadata Meta(Backends.TensorSpec s)
    {
        var t = new ModelMetadataResponse.Types.TensorMetadata { Name = s.Name, Datatype = s.DataType.Name() };
        t.Shape.AddRange(s.Shape);
        return t;
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    public override async Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context)
    {
        long start = InferenceService.Now();
        string name = request.ModelName;
        try
        {
            var req = Decode(request);
            var (response, timings) = await service.InferAsync(req, context.CancellationToken);
            var r = new ModelInferResponse { ModelName = response.ModelName, ModelVersion = response.ModelVersion, Id = request.Id };
            foreach (var o in response.Outputs)
            {
                var t = new ModelInferResponse.Types.InferOutputTensor { Name = o.Name, Datatype = o.DataType.Name() };
                t.Shape.AddRange(o.Shape);
                r.Outputs.Add(t);
                r.RawOutputContents.Add(UnsafeByteOperations.UnsafeWrap(o.Data));
            }
            metrics.Success(response.ModelName, response.ModelVersion, "grpc", timings, InferenceService.Since(start));
            return r;
        }
        catch (InferenceException e)
        {
            metrics.Failure(repository.Find(name) is null ? "" : name, request.ModelVersion, e.StatusCode);
            throw ToRpc(e);
        }
        catch (Exception e) when (e is not RpcException && !context.CancellationToken.IsCancellationRequested)
        {
            metrics.Failure(repository.Find(name) is null ? "" : name, request.ModelVersion, 500);
            logger.LogError(e, "Inference on {Model} failed", name);
            throw new RpcException(new Status(StatusCode.Internal, $"inference failed: {e.Message}"));
        }
    }

    internal static InferRequest Decode(ModelInferRequest request)
    {
        int raw = request.RawInputContents.Count;
        if (raw > 0 && raw != request.Inputs.Count)
            throw InferenceException.BadRequest($"raw_input_contents has {raw} entries for {request.Inputs.Count} inputs");
        var inputs = new List<InferTensor>(request.Inputs.Count);
        for (int i = 0; i < request.Inputs.Count; i++)
        {
            var input = request.Inputs[i];
            var type = DataTypes.Parse(input.Datatype, input.Name);
            long[] shape = [.. input.Shape];
            foreach (var d in shape)
                if (d < 0) throw InferenceException.BadRequest($"input '{input.Name}' shape must hold non-negative integers");
            ReadOnlyMemory<byte> data;
            if (raw > 0)
            {
                if (input.Contents is not null && HasContents(input.Contents))
                    throw InferenceException.BadRequest($"input '{input.Name}' has both contents and raw_input_contents");
                data = request.RawInputContents[i].Memory;
            }
            else
            {
                try { data = FromContents(input, type, OipJson.ElementCount(shape, input.Name)); }
                catch (OverflowException) { throw InferenceException.BadRequest($"input '{input.Name}': a value in contents is out of range for {type.Name()}"); }
            }
            var tensor = new InferTensor(input.Name, type, shape, data);
            tensor.Validate();
            inputs.Add(tensor);
        }
        TimeSpan? timeout = request.Parameters.TryGetValue("timeout", out var tp) && tp.ParameterChoiceCase == InferParameter.ParameterChoiceOneofCase.Int64Param && tp.Int64Param > 0
            ? TimeSpan.FromMicroseconds(tp.Int64Param) : null;
        return new InferRequest
        {
            ModelName = request.ModelName,
            ModelVersion = NullIfEmpty(request.ModelVersion),
            Id = NullIfEmpty(request.Id),
            Inputs = inputs,
            Outputs = request.Outputs.Count == 0 ? null : [.. request.Outputs.Select(o => new RequestedOutput(o.Name, true))],
            Timeout = timeout,
        };
    }

    private static bool HasContents(InferTensorContents c) =>
        c.BoolContents.Count + c.IntContents.Count + c.Int64Contents.Count + c.UintContents.Count + c.Uint64Contents.Count +
        c.Fp32Contents.Count + c.Fp64Contents.Count + c.BytesContents.Count > 0;

    private static ReadOnlyMemory<byte> FromContents(ModelInferRequest.Types.InferInputTensor input, DataType type, long count)
    {
        var c = input.Contents ?? new InferTensorContents();
        byte[] Check<T>(IReadOnlyList<T> values, string field, Func<IReadOnlyList<T>, byte[]> convert)
        {
            if (values.Count != count)
                throw InferenceException.BadRequest($"input '{input.Name}' has shape [{string.Join(",", input.Shape)}] ({count} elements) but contents.{field} holds {values.Count}");
            return convert(values);
        }
        static byte[] Bytes<T>(T[] a) where T : unmanaged => MemoryMarshal.AsBytes(a.AsSpan()).ToArray();
        return type switch
        {
            DataType.Bool => Check(c.BoolContents, "bool_contents", v => [.. v.Select(b => b ? (byte)1 : (byte)0)]),
            DataType.Int8 => Check(c.IntContents, "int_contents", v => Bytes(v.Select(x => checked((sbyte)x)).ToArray())),
            DataType.Int16 => Check(c.IntContents, "int_contents", v => Bytes(v.Select(x => checked((short)x)).ToArray())),
            DataType.Int32 => Check(c.IntContents, "int_contents", v => Bytes(v.ToArray())),
            DataType.Int64 => Check(c.Int64Contents, "int64_contents", v => Bytes(v.ToArray())),
            DataType.UInt8 => Check(c.UintContents, "uint_contents", v => Bytes(v.Select(x => checked((byte)x)).ToArray())),
            DataType.UInt16 => Check(c.UintContents, "uint_contents", v => Bytes(v.Select(x => checked((ushort)x)).ToArray())),
            DataType.UInt32 => Check(c.UintContents, "uint_contents", v => Bytes(v.ToArray())),
            DataType.UInt64 => Check(c.Uint64Contents, "uint64_contents", v => Bytes(v.ToArray())),
            DataType.FP32 => Check(c.Fp32Contents, "fp32_contents", v => Bytes(v.ToArray())),
            DataType.FP64 => Check(c.Fp64Contents, "fp64_contents", v => Bytes(v.ToArray())),
            DataType.Bytes => Check(c.BytesContents, "bytes_contents", v => InferTensor.FromElements(input.Name, [], [.. v.Select(b => b.Memory)]).Data.ToArray()),
            _ => throw InferenceException.BadRequest($"input '{input.Name}': {type.Name()} has no typed contents field; send it in raw_input_contents"),
        };
    }

    public override Task<RepositoryIndexResponse> RepositoryIndex(RepositoryIndexRequest request, ServerCallContext context) => Guard(() =>
    {
        RequireRepositoryApi();
        var r = new RepositoryIndexResponse();
        foreach (var m in service.Cache.Index())
            if (!request.Ready || m.State == "READY")
                r.Models.Add(new RepositoryIndexResponse.Types.ModelIndex { Name = m.Name, Version = m.Version, State = m.State, Reason = m.Reason });
        return Task.FromResult(r);
    });

    public override Task<RepositoryModelLoadResponse> RepositoryModelLoad(RepositoryModelLoadRequest request, ServerCallContext context) => Guard(async () =>
    {
        RequireRepositoryApi();
        await service.Cache.LoadAsync(request.ModelName, context.CancellationToken);
        return new RepositoryModelLoadResponse();
    });

    public override Task<RepositoryModelUnloadResponse> RepositoryModelUnload(RepositoryModelUnloadRequest request, ServerCallContext context) => Guard(() =>
    {
        RequireRepositoryApi();
        service.Cache.Unload(request.ModelName);
        return Task.FromResult(new RepositoryModelUnloadResponse());
    });

    private void RequireRepositoryApi()
    {
        if (!options.EnableRepositoryApi)
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "the model repository extension is disabled; start the server with --repository-api to use it"));
    }
}
