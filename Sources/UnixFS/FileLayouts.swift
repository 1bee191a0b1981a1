/// Builds a balanced file DAG from leaves as they arrive, holding one partial node per level
/// (at most depth × maxLinks links), exactly as kubo's balanced layout shapes it.
struct BalancedBuilder: Sendable {
    private var levels: [[ImportedNode]] = [[]]
    let maxLinks: Int

    init(maxLinks: Int) { self.maxLinks = maxLinks }

    var isEmpty: Bool { levels.count == 1 && levels[0].isEmpty }

    mutating func add(_ node: ImportedNode, encoder: NodeEncoder, blocks: inout [Block]) {
        push(node, level: 0, encoder: encoder, blocks: &blocks)
    }

    private mutating func push(_ node: ImportedNode, level: Int, encoder: NodeEncoder, blocks: inout [Block]) {
        if level == levels.count { levels.append([]) }
        if levels[level].count == maxLinks {
            let full = encoder.fileNode(levels[level])
            if let b = full.block { blocks.append(b) }
            levels[level].removeAll(keepingCapacity: true)
            push(full.node, level: level + 1, encoder: encoder, blocks: &blocks)
        }
        levels[level].append(node)
    }

    /// The root; nil when no leaf was added. A single leaf is its own root.
    mutating func finish(encoder: NodeEncoder, blocks: inout [Block]) -> ImportedNode? {
        if isEmpty { return nil }
        var level = 0
        while true {
            if level == levels.count - 1 {
                if level == 0 && levels[0].count == 1 { return levels[0][0] }
                let root = encoder.fileNode(levels[level])
                if let b = root.block { blocks.append(b) }
                return root.node
            }
            let node = encoder.fileNode(levels[level])
            if let b = node.block { blocks.append(b) }
            levels[level].removeAll()
            push(node.node, level: level + 1, encoder: encoder, blocks: &blocks)
            level += 1
        }
    }
}

/// Builds a trickle file DAG from leaves as they arrive: each node first takes up to maxLinks
/// leaves, then layers of `depthRepeat` subtrees of growing depth (kubo's trickle layout).
struct TrickleBuilder: Sendable {
    static let depthRepeat = 4

    private struct Frame: Sendable {
        var children: [ImportedNode] = []
        /// -1 for the root (no limit).
        let maxDepth: Int
        var filling = true
        var depth = 1
        var repeatIndex = 0

        var isComplete: Bool { !filling && maxDepth != -1 && depth >= maxDepth }
    }

    private var stack: [Frame] = [Frame(maxDepth: -1)]
    let maxLinks: Int

    init(maxLinks: Int) { self.maxLinks = maxLinks }

    mutating func add(_ leaf: ImportedNode, encoder: NodeEncoder, blocks: inout [Block]) {
        while true {
            let top = stack.count - 1
            if stack[top].filling {
                if stack[top].children.count < maxLinks {
                    stack[top].children.append(leaf)
                    return
                }
                stack[top].filling = false
            }
            if stack[top].isComplete {
                popFrame(encoder: encoder, blocks: &blocks)
            } else {
                stack.append(Frame(maxDepth: stack[top].depth))
            }
        }
    }

    /// Encodes the top frame and links it into its parent, advancing the parent's layer.
    private mutating func popFrame(encoder: NodeEncoder, blocks: inout [Block]) {
        let frame = stack.removeLast()
        let node = encoder.fileNode(frame.children)
        if let b = node.block { blocks.append(b) }
        let p = stack.count - 1
        stack[p].children.append(node.node)
        stack[p].repeatIndex += 1
        if stack[p].repeatIndex == TrickleBuilder.depthRepeat {
            stack[p].depth += 1
            stack[p].repeatIndex = 0
        }
    }

    /// The root: always a node, even over a single leaf or none.
    mutating func finish(encoder: NodeEncoder, blocks: inout [Block]) -> ImportedNode {
        while stack.count > 1 { popFrame(encoder: encoder, blocks: &blocks) }
        let root = encoder.fileNode(stack[0].children)
        if let b = root.block { blocks.append(b) }
        return root.node
    }
}
