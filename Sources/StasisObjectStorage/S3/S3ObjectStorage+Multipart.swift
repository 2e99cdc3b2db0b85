import Crypto
import NIOCore

extension S3ObjectStorage {
    /// CreateMultipartUpload, one UploadPart per `partSize` bytes (each with its own
    /// x-amz-checksum-sha256), CompleteMultipartUpload listing every part's ETag and checksum.
    /// The whole object's SHA-256 is computed from the parts as they go up and compared with
    /// `expected` before completing, so a source that does not match never becomes visible. Any
    /// failure aborts the upload, so the service drops the parts.
    func uploadInParts(
        _ fullKey: String, size: Int64, expected: ObjectDigest?,
        readPart: (Range<Int64>) throws(ObjectStorageError) -> [UInt8]
    ) async throws(ObjectStorageError) {
        let uploadID = try await createUpload(fullKey)
        do throws(ObjectStorageError) {
            let (parts, actual) = try await uploadParts(fullKey, uploadID: uploadID, size: size, readPart: readPart)
            if let expected, expected != actual {
                throw ObjectStorageError.checksumMismatch(transport.location(fullKey), expected: expected, actual: actual)
            }
            try await completeUpload(fullKey, uploadID: uploadID, parts: parts)
        } catch {
            await abortUpload(fullKey, uploadID: uploadID)
            throw error
        }
    }

    struct UploadedPart: Sendable {
        var number: Int
        var etag: String
        var checksum: String
    }

    /// Reads the parts in order (hashing the whole object as it goes) and uploads up to
    /// `multipart.concurrency` of them at once. Returns the parts by number and the whole digest.
    private func uploadParts(
        _ fullKey: String, uploadID: String, size: Int64,
        readPart: (Range<Int64>) throws(ObjectStorageError) -> [UInt8]
    ) async throws(ObjectStorageError) -> ([UploadedPart], ObjectDigest) {
        let partSize = Int64(configuration.multipart.partSize)
        let window = configuration.multipart.concurrency
        do {
            return try await withThrowingTaskGroup(of: UploadedPart.self) { group in
                var whole = SHA256()
                var parts: [UploadedPart] = []
                var inFlight = 0
                var offset: Int64 = 0
                var number = 1
                while offset < size {
                    let range = offset..<min(size, offset + partSize)
                    let bytes = try readPart(range)
                    guard bytes.count == range.count else {
                        throw ObjectStorageError.wrongLength(transport.location(fullKey), expected: Int64(range.count), received: Int64(bytes.count))
                    }
                    whole.update(data: bytes)
                    if inFlight == window, let done = try await group.next() {
                        parts.append(done)
                        inFlight -= 1
                    }
                    let partNumber = number
                    group.addTask {
                        let digest = ObjectDigest.of(bytes)
                        let etag = try await self.uploadPart(fullKey, uploadID: uploadID, number: partNumber, bytes: bytes, digest: digest)
                        return UploadedPart(number: partNumber, etag: etag, checksum: digest.base64)
                    }
                    inFlight += 1
                    offset = range.upperBound
                    number += 1
                }
                for try await done in group { parts.append(done) }
                return (parts.sorted { $0.number < $1.number }, ObjectDigest(whole.finalize()))
            }
        } catch let error as ObjectStorageError {
            throw error
        } catch {
            throw .cancelled(transport.location(fullKey))
        }
    }

    private func createUpload(_ fullKey: String) async throws(ObjectStorageError) -> String {
        let call = S3Call(
            operation: "CreateMultipartUpload", method: .POST, key: fullKey, query: [("uploads", "")],
            headers: [("x-amz-checksum-algorithm", "SHA256"), ("content-type", "application/octet-stream")])
        let answer = try await transport.send(call)
        guard answer.isSuccess else { throw failure(answer, call) }
        guard let id = XMLText.first("UploadId", in: answer.bodyText), !id.isEmpty else {
            throw .invalidResponse(transport.location(fullKey), operation: call.operation, reason: "no UploadId")
        }
        return id
    }

    private func uploadPart(_ fullKey: String, uploadID: String, number: Int, bytes: [UInt8], digest: ObjectDigest) async throws(ObjectStorageError) -> String {
        let call = S3Call(
            operation: "UploadPart \(number)", method: .PUT, key: fullKey,
            query: [("partNumber", String(number)), ("uploadId", uploadID)],
            headers: [("x-amz-checksum-sha256", digest.base64)],
            body: ByteBuffer(bytes: bytes), payloadHash: payloadHash(digest))
        let answer = try await transport.send(call)
        guard answer.isSuccess else { throw failure(answer, call) }
        guard let etag = answer.headers.first(name: "etag") else {
            throw .invalidResponse(transport.location(fullKey), operation: call.operation, reason: "no ETag")
        }
        return etag
    }

    private func completeUpload(_ fullKey: String, uploadID: String, parts: [UploadedPart]) async throws(ObjectStorageError) {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(XMLText.escape(part.etag))</ETag>"
            xml += "<ChecksumSHA256>\(part.checksum)</ChecksumSHA256></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let body = Array(xml.utf8)
        let call = S3Call(
            operation: "CompleteMultipartUpload", method: .POST, key: fullKey, query: [("uploadId", uploadID)],
            headers: [("content-type", "application/xml")],
            body: ByteBuffer(bytes: body), payloadHash: ObjectDigest.of(body).hex)
        let answer = try await transport.send(call)
        guard answer.isSuccess else { throw failure(answer, call) }
        // S3 may answer 200 and still fail the completion, with an <Error> body.
        let text = answer.bodyText
        if text.contains("<Error>") {
            let cause = S3ServiceError(status: answer.status, code: XMLText.first("Code", in: text), message: XMLText.first("Message", in: text))
            throw .unavailable(transport.location(fullKey), operation: call.operation, attempts: 1, cause: cause)
        }
    }

    /// Best effort: a failed abort leaves parts that the bucket's lifecycle rule or gc removes.
    private func abortUpload(_ fullKey: String, uploadID: String) async {
        let call = S3Call(operation: "AbortMultipartUpload", method: .DELETE, key: fullKey, query: [("uploadId", uploadID)])
        _ = try? await transport.send(call)
    }
}
